{% autoescape off %}// The technician app's service worker (scope /field/). It keeps the app
// shell and the pages last seen (the day, the visits opened) so they can
// be read without a connection. Status updates are not its business:
// field.js queues those. Only GET requests are looked at.
"use strict";
var CACHE = "field-v1";
var SHELL = {{ shell_json }};
var DAY = "{{ day_url }}";

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (key) { return key !== CACHE; }).map(function (key) { return caches.delete(key); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") {
    return;
  }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (request.mode === "navigate" && url.pathname.indexOf(DAY) === 0) {
    // Pages: the network first (they change all day), the last copy when offline.
    event.respondWith(
      fetch(request).then(function (response) {
        if (response.redirected) {
          // Sent to the sign-in page: forget the pages kept for the last person.
          caches.open(CACHE).then(function (cache) {
            cache.keys().then(function (requests) {
              requests.forEach(function (kept) {
                if (SHELL.indexOf(new URL(kept.url).pathname) === -1) {
                  cache.delete(kept);
                }
              });
            });
          });
        } else if (response.ok) {
          var copy = response.clone();
          caches.open(CACHE).then(function (cache) {
            cache.put(request, copy.clone());
            if (url.pathname === DAY) {
              cache.put(DAY, copy);
            }
          });
        }
        return response;
      }).catch(function () {
        return caches.match(request).then(function (hit) {
          return hit || caches.match(DAY);
        }).then(function (hit) {
          return hit || new Response("Offline", { status: 503, headers: { "Content-Type": "text/plain" } });
        });
      })
    );
    return;
  }
  if (SHELL.indexOf(url.pathname) !== -1) {
    event.respondWith(caches.match(request).then(function (hit) { return hit || fetch(request); }));
  }
});
{% endautoescape %}
