// The segment builder: the shared condition editor (conditions.js) writes the definition into the hidden
// #segment-definition and announces each edit (sb:segment-changed), which the live count (htmx, debounced) follows.
(function () {
  "use strict";
  var hidden = document.getElementById("segment-definition");
  var catEl = document.getElementById("segment-catalogue");
  var box = document.getElementById("segment-conditions");
  if (!hidden || !catEl || !box) { return; }
  var cat = JSON.parse(catEl.textContent);
  var first = true;
  window.sbConditions.editor(box, cat, JSON.parse(hidden.value || "{}"), function (tree) {
    hidden.value = JSON.stringify(tree);
    if (first) { first = false; return; }
    document.body.dispatchEvent(new CustomEvent("sb:segment-changed", {bubbles: true}));
  });
})();
