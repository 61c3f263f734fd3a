/* Customer pages: every <time data-local datetime="ISO"> is shown in the customer's time zone, in the page's
 * language: the zone an element's [data-time-zone] ancestor names (the contact's, from their card), else the
 * browser's own. (The server rendered it in that zone, or the shop's; this runs where the browser knows better.) */
(function () {
  "use strict";
  var lang = document.documentElement.lang || undefined;
  var formats = {};
  function format(zone) {
    if (!(zone in formats)) {
      try { formats[zone] = new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "short", timeZone: zone || undefined }); }
      catch (e) { formats[zone] = zone ? format("") : null; }  // a zone this browser does not know: its own
    }
    return formats[zone];
  }
  function localise(root) {
    (root || document).querySelectorAll("time[data-local]").forEach(function (el) {
      var holder = el.closest("[data-time-zone]");
      var fmt = format(holder ? holder.getAttribute("data-time-zone") : "");
      var at = new Date(el.getAttribute("datetime"));
      if (fmt && !isNaN(at.getTime())) { el.textContent = fmt.format(at); el.setAttribute("data-zone", fmt.resolvedOptions().timeZone); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localise(); });
  document.addEventListener("htmx:afterSwap", function () { localise(); });
  document.addEventListener("htmx:oobAfterSwap", function () { localise(); });
  if (document.readyState !== "loading") localise();
})();
