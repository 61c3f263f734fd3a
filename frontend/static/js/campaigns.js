/* The campaign editor's variable picker: a click on <button data-insert="{{ contact.name }}"> puts that text where
 * the cursor was in the message field last focused (the first one when none was). No inline script (CSP). */
(function () {
  "use strict";
  var last = null;
  document.addEventListener("focusin", function (event) {
    var el = event.target;
    if (el instanceof HTMLTextAreaElement || (el instanceof HTMLInputElement && /^v_[A-Z]_subject_/.test(el.name))) {
      last = el;
    }
  });
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest("[data-insert]") : null;
    if (!target) return;
    event.preventDefault();
    var field = last || document.querySelector("form[data-testid='campaign-form'] textarea");
    if (!field) return;
    var text = target.getAttribute("data-insert") || "";
    var start = field.selectionStart == null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd == null ? field.value.length : field.selectionEnd;
    field.value = field.value.slice(0, start) + text + field.value.slice(end);
    field.focus();
    field.selectionStart = field.selectionEnd = start + text.length;
  });
})();
