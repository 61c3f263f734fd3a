/* Console chat panes: Enter sends (Shift+Enter for a new line); "visitor is typing" hides itself when it expires. */
(function () {
  "use strict";
  document.addEventListener("keydown", function (evt) {
    var el = evt.target;
    if (evt.key !== "Enter" || evt.shiftKey || evt.isComposing || !el.matches || !el.matches(".chat-reply textarea")) return;
    if (evt.defaultPrevented) return; // another helper (canned responses) used the key
    evt.preventDefault();
    if (el.value.trim()) el.form.requestSubmit();
  });
  setInterval(function () {
    var now = Date.now() / 1000;
    document.querySelectorAll(".chat-typing[data-until]").forEach(function (el) {
      el.hidden = parseFloat(el.getAttribute("data-until")) < now;
    });
  }, 500);
})();
