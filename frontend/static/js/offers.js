/* Offer countdowns (console): every element with data-expires (unix seconds) shows the seconds left to accept,
   ticking each second and after every htmx swap; at zero it says the offer expired (the server closes it). */
(function () {
  "use strict";
  var _ = (window.sbI18n && window.sbI18n.gettext) || function (s) { return s; };  // /i18n/{lang}.js, from base.html
  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-expires]").forEach(function (el) {
      var left = Math.ceil(parseFloat(el.getAttribute("data-expires")) - now);
      if (left > 0) {
        el.textContent = _("%(seconds)s s left").replace("%(seconds)s", String(left));
        el.classList.toggle("urgent", left <= 5);
      } else {
        el.textContent = _("expired");
        var item = el.closest("[data-offer-id]");
        if (item) { item.querySelectorAll("button").forEach(function (b) { b.disabled = true; }); }
      }
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);
  document.addEventListener("htmx:oobAfterSwap", tick);
})();
