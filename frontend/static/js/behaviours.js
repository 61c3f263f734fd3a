/* Small behaviours the templates ask for with data attributes, so no page needs an inline script or an on*= /
 * hx-on attribute (the Content-Security-Policy allows scripts from /static only):
 *   <form data-confirm="Delete it?">         asks before submitting; Cancel stops the submit
 *   <form data-reset-on-success hx-post=…>   is emptied after its own htmx request succeeded (2xx)
 *   <button data-dismiss>                     removes its parent element (a toast)
 *   <button data-show-modal="id">             opens the <dialog id="id">
 * Listeners sit on the document, so fragments swapped in later by htmx or the websocket behave alike. */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm !== undefined && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-reset-on-success") && event.detail &&
        event.detail.successful) {
      form.reset();
    }
  });
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    var dismiss = target.closest("[data-dismiss]");
    if (dismiss && dismiss.parentElement) {
      dismiss.parentElement.remove();
      return;
    }
    var opener = target.closest("[data-show-modal]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-show-modal"));
      if (dialog && typeof dialog.showModal === "function") dialog.showModal();
    }
  });
})();
