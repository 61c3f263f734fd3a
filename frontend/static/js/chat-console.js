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
  // "Visitor is typing" survives re-renders of the pane (any console panel swap renders it without the state):
  // remembered per chat log before a swap, put back after it, until it expires or a visitor message ends it (0).
  var typingUntil = {};
  function syncTyping() {
    var now = Date.now() / 1000;
    document.querySelectorAll(".chat-log").forEach(function (log) {
      var el = log.querySelector(".chat-typing");
      if (!el) return;
      var until = el.getAttribute("data-until");
      if (until === "0") {
        delete typingUntil[log.id];
        el.removeAttribute("data-until");
      } else if (until) {
        typingUntil[log.id] = Math.max(parseFloat(until), typingUntil[log.id] || 0);
      } else if ((typingUntil[log.id] || 0) > now) {
        el.setAttribute("data-until", String(typingUntil[log.id]));
      }
      el.hidden = !((typingUntil[log.id] || 0) > now);
    });
  }
  ["htmx:oobBeforeSwap", "htmx:oobAfterSwap", "htmx:beforeSwap", "htmx:afterSwap"].forEach(function (name) {
    document.addEventListener(name, syncTyping);
  });
  setInterval(syncTyping, 500);
})();
