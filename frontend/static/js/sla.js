/* SLA badges on the console: each [data-sla-due] element counts down to its due time (unix seconds) every second,
   with no server round trip: green while before the warning time, amber from data-sla-warn, red once due (then it
   counts the time overdue). A paused clock is left as the server drew it. The queue can be sorted by it (due soonest
   first): the choice is kept in this browser and applied again after every swap. */
(function () {
  "use strict";
  var KEY = "sb-sla-sort";
  function fmt(s) {
    s = Math.max(0, Math.floor(s));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + ":" + (m < 10 ? "0" : "") : "") + m + ":" + (r < 10 ? "0" : "") + r;
  }
  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-sla-due]").forEach(function (el) {
      if (el.getAttribute("data-sla-paused")) { return; }
      var due = parseFloat(el.getAttribute("data-sla-due")), warn = parseFloat(el.getAttribute("data-sla-warn"));
      var state = now >= due ? "breached" : (now >= warn ? "warning" : "running");
      ["running", "warning", "breached"].forEach(function (s) { el.classList.toggle("sla-" + s, s === state); });
      el.setAttribute("data-sla-state", state);
      el.textContent = (now >= due ? "-" : "") + fmt(Math.abs(due - now));
    });
  }
  function sortQueue() {
    var on = localStorage.getItem(KEY) === "due";
    var button = document.querySelector("[data-testid=sla-sort]");
    if (button) { button.setAttribute("aria-pressed", on ? "true" : "false"); }
    var list = document.querySelector("#console-queue [data-testid=queue]");
    if (!on || !list) { return; }
    var items = Array.prototype.slice.call(list.querySelectorAll(":scope > [data-testid=queue-item]"));
    function due(item) {
      var b = item.querySelector("[data-sla-due]");
      return b && !b.getAttribute("data-sla-paused") ? parseFloat(b.getAttribute("data-sla-due")) : Infinity;
    }
    items.sort(function (a, b) { return due(a) - due(b); }).forEach(function (item) { list.appendChild(item); });
  }
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-testid=sla-sort]");
    if (!button) { return; }
    localStorage.setItem(KEY, localStorage.getItem(KEY) === "due" ? "" : "due");
    if (localStorage.getItem(KEY) !== "due") { document.body.dispatchEvent(new Event("sb:refresh")); }
    sortQueue();
  });
  function refresh() { sortQueue(); tick(); }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", refresh);
  document.addEventListener("htmx:afterSwap", refresh);
  document.addEventListener("htmx:oobAfterSwap", refresh);
})();
