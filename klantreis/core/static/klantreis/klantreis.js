// After htmx swaps in a new step, move keyboard and screen-reader focus to
// it, as a full page load would. No inline script: the CSP forbids it.
document.addEventListener("htmx:afterSwap", function (event) {
  var target = event.detail.target || document;
  // A live region that refreshed itself (the arrival estimate) is announced
  // where it is; focus stays where the person is working.
  if (target.closest && target.closest("[aria-live]")) {
    return;
  }
  var focus = target.querySelector("[data-autofocus]") || document.querySelector("[data-autofocus]");
  if (focus) {
    focus.focus();
  }
});
