/* An open <details> with an id stays open when htmx swaps the panel around it: a live update of the console (an
   out-of-band swap from the socket) or a panel refresh must not close the choices an operator is looking at
   (the conversation actions' Snooze, Assign, Merge). */
(function () {
  "use strict";
  var open = [];

  function remember() {
    open = Array.prototype.map.call(document.querySelectorAll("details[id][open]"), function (d) { return d.id; });
  }
  function restore() {
    open.forEach(function (id) {
      var d = document.getElementById(id);
      if (d && d.tagName === "DETAILS") d.open = true;
    });
  }
  ["htmx:beforeSwap", "htmx:oobBeforeSwap"].forEach(function (name) { document.addEventListener(name, remember); });
  ["htmx:afterSwap", "htmx:oobAfterSwap"].forEach(function (name) { document.addEventListener(name, restore); });
})();
