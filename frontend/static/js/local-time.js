/* Customer pages: every <time data-local datetime="ISO"> is shown in the browser's own time zone, in the page's
 * language (the server rendered it in the shop's zone; this only runs where the browser knows better). */
(function () {
  "use strict";
  var lang = document.documentElement.lang || undefined;
  var fmt;
  try { fmt = new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "short" }); } catch (e) { return; }
  function localise(root) {
    (root || document).querySelectorAll("time[data-local]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      if (!isNaN(at.getTime())) { el.textContent = fmt.format(at); el.setAttribute("data-zone", fmt.resolvedOptions().timeZone); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localise(); });
  document.addEventListener("htmx:afterSwap", function () { localise(); });
  document.addEventListener("htmx:oobAfterSwap", function () { localise(); });
  if (document.readyState !== "loading") localise();
})();
