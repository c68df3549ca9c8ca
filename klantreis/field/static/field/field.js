// The technician app: status updates that survive a dropped connection.
//
// Action forms (data-field-action) are sent with fetch. When the network is
// gone the update is kept in localStorage and sent again when the phone is
// back online, on every page load and every 15 seconds. Each form carries a
// key made by the server, so an update that arrived but whose answer was
// lost is applied once however often it is sent. An update leaves the queue
// only when the server answers: recorded, or refused (4xx; the reason is
// shown). Without JavaScript the forms post and redirect as usual.
(function () {
  "use strict";

  var STORE = "klantreis-field-queue";
  var RETRY_MS = 15000;
  var sending = false;

  function box() {
    return document.getElementById("field-queue");
  }

  function text(name) {
    var element = box();
    return (element && element.getAttribute("data-text-" + name)) || "";
  }

  function say(lines, alert) {
    var element = box();
    if (!element) {
      return;
    }
    element.textContent = "";
    element.className = "field-queue" + (lines.length ? (alert ? " field-queue-alert" : " field-queue-info") : "");
    lines.forEach(function (line) {
      var paragraph = document.createElement("p");
      paragraph.textContent = line;
      element.appendChild(paragraph);
    });
    if (lines.length) {
      // The notice is at the top; the button pressed may be far below it.
      element.setAttribute("tabindex", "-1");
      element.focus();
    }
  }

  function load() {
    try {
      var queue = JSON.parse(window.localStorage.getItem(STORE) || "[]");
      return Array.isArray(queue) ? queue : [];
    } catch (error) {
      return [];
    }
  }

  function save(queue) {
    window.localStorage.setItem(STORE, JSON.stringify(queue));
  }

  function fieldsOf(form) {
    var fields = [];
    var photos = false;
    new FormData(form).forEach(function (value, name) {
      if (typeof value === "string") {
        fields.push([name, value]);
      } else if (value && value.size) {
        photos = true;
      }
    });
    return { fields: fields, photos: photos };
  }

  function bodyOf(fields) {
    var body = new FormData();
    fields.forEach(function (pair) {
      body.append(pair[0], pair[1]);
    });
    return body;
  }

  // Resolves to "done" (with the server's answer), "refused" (with reasons)
  // or "later" (no answer worth acting on: keep the update).
  function send(url, body) {
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      return response.json().then(
        function (answer) {
          if (response.ok && answer.ok) {
            return { result: "done", answer: answer };
          }
          if (response.status >= 400 && response.status < 500) {
            return { result: "refused", reasons: answer.errors || [] };
          }
          return { result: "later" };
        },
        function () {
          // Not our JSON: a sign-in page after the session ended, or a
          // refusal by Django itself (CSRF, 403, 404).
          if (response.status >= 400 && response.status < 500) {
            return { result: "refused", reasons: [] };
          }
          return { result: "later" };
        }
      );
    });
  }

  function waiting(queue) {
    if (!queue.length) {
      return [];
    }
    return [text("queued"), text("waiting") + " " + queue.map(function (item) { return item.label; }).join(", ")];
  }

  function markQueued(queue) {
    queue.forEach(function (item) {
      document.querySelectorAll("form[data-field-action]").forEach(function (form) {
        var key = form.querySelector("input[name=key]");
        if (key && key.value === item.key) {
          form.setAttribute("data-queued", "");
          form.querySelectorAll("button").forEach(function (button) {
            button.disabled = true;
          });
        }
      });
    });
  }

  function flush() {
    var queue = load();
    if (sending || !queue.length) {
      return Promise.resolve();
    }
    sending = true;
    var sent = false;
    var refused = [];
    var step = function (index) {
      var current = load();
      var item = current.filter(function (entry) { return entry.key === queue[index].key; })[0];
      if (!item) {
        return index + 1 < queue.length ? step(index + 1) : Promise.resolve();
      }
      return send(item.url, bodyOf(item.fields)).then(
        function (outcome) {
          if (outcome.result === "later") {
            return null; // keep it and the ones behind it, in order
          }
          save(load().filter(function (entry) { return entry.key !== item.key; }));
          if (outcome.result === "done") {
            sent = true;
          } else {
            refused.push(text("refused") + " " + item.label + (outcome.reasons.length ? ": " + outcome.reasons.join(" ") : ""));
          }
          return index + 1 < queue.length ? step(index + 1) : null;
        },
        function () {
          return null; // still offline
        }
      );
    };
    return step(0).then(function () {
      sending = false;
      var left = load();
      if (refused.length) {
        say(refused.concat(waiting(left)), true);
      } else if (sent && !left.length) {
        // The page shows the state before the update: show it after.
        say([text("sent")], false);
        window.location.reload();
      } else {
        say(waiting(left), false);
      }
    });
  }

  // Not form.action: the forms have a field named "action", which hides it.
  function target(form) {
    return new URL(form.getAttribute("action") || "", window.location.href).href;
  }

  function queueUpdate(form) {
    var collected = fieldsOf(form);
    var key = form.querySelector("input[name=key]");
    var queue = load();
    queue.push({
      key: key ? key.value : String(Date.now()),
      url: target(form),
      label: form.getAttribute("data-label") || "",
      fields: collected.fields,
      at: new Date().toISOString()
    });
    save(queue);
    markQueued(queue);
    var lines = waiting(queue);
    if (collected.photos) {
      lines.push(text("no-photos"));
    }
    say(lines, false);
  }

  function submit(form) {
    var body = new FormData(form);
    form.querySelectorAll("button").forEach(function (button) {
      button.disabled = true;
    });
    send(target(form), body).then(
      function (outcome) {
        if (outcome.result === "done") {
          window.location.assign(outcome.answer.redirect);
          return;
        }
        form.querySelectorAll("button").forEach(function (button) {
          button.disabled = false;
        });
        if (outcome.result === "refused") {
          // Refused while online: post the form itself, so the server's page
          // shows why next to the fields, with what was typed kept. Nothing
          // was recorded, so the key is still unused.
          HTMLFormElement.prototype.submit.call(form);
          return;
        }
        queueUpdate(form);
      },
      function () {
        queueUpdate(form);
      }
    );
  }

  function withPosition(form, then) {
    var latitude = form.querySelector("input[name=latitude]");
    var longitude = form.querySelector("input[name=longitude]");
    if (!latitude || !longitude || !navigator.geolocation) {
      then();
      return;
    }
    var done = false;
    var finish = function () {
      if (!done) {
        done = true;
        then();
      }
    };
    // The update matters more than the position: go without after a few seconds.
    window.setTimeout(finish, 5000);
    navigator.geolocation.getCurrentPosition(
      function (position) {
        latitude.value = position.coords.latitude.toFixed(6);
        longitude.value = position.coords.longitude.toFixed(6);
        finish();
      },
      finish,
      { enableHighAccuracy: false, timeout: 4000, maximumAge: 120000 }
    );
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-field-action")) {
      return;
    }
    event.preventDefault();
    if (form.hasAttribute("data-queued")) {
      return;
    }
    if (form.hasAttribute("data-geolocate")) {
      withPosition(form, function () { submit(form); });
    } else {
      submit(form);
    }
  });

  window.addEventListener("online", flush);
  window.setInterval(flush, RETRY_MS);
  document.addEventListener("DOMContentLoaded", function () {
    var queue = load();
    markQueued(queue);
    say(waiting(queue), false);
    flush();
  });

  // Signing out leaves no copy of the visits on the phone (queued updates
  // stay: they are the technician's work, sent with the next sign-in).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && /\/sign-out\/$/.test(form.getAttribute("action") || "") && window.caches) {
      window.caches.keys().then(function (keys) {
        keys.forEach(function (key) {
          if (key.indexOf("field-") === 0) {
            window.caches.delete(key);
          }
        });
      });
    }
  });

  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/field/sw.js", { scope: "/field/" }).catch(function () {
        return null; // the app works without it, only not offline
      });
    });
  }
})();
