/* Console chat panes: Enter sends (Shift+Enter for a new line); "visitor is typing" hides itself when it expires;
   a message pushed twice shows once. */
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
  // A new message is appended to its pane alone (app/chat/live.py). The pane may have been rendered whole after the
  // message was stored (a panel swap), so the append can bring a message already shown: keep the first of each id,
  // and drop "No messages yet." once there is one.
  function dedupe() {
    document.querySelectorAll(".chat-messages").forEach(function (list) {
      var seen = {};
      list.querySelectorAll(".chat-msg[data-message-id]").forEach(function (msg) {
        var id = msg.getAttribute("data-message-id");
        if (seen[id]) msg.remove(); else seen[id] = true;
      });
      if (list.querySelector(".chat-msg")) {
        list.querySelectorAll(".chat-empty").forEach(function (p) { p.remove(); });
      }
    });
  }
  ["htmx:oobBeforeSwap", "htmx:oobAfterSwap", "htmx:beforeSwap", "htmx:afterSwap"].forEach(function (name) {
    document.addEventListener(name, syncTyping);
  });
  ["htmx:oobAfterSwap", "htmx:afterSwap"].forEach(function (name) {
    document.addEventListener(name, dedupe);
  });
  setInterval(syncTyping, 500);
})();
