/* Console keyboard shortcuts (listed on the `?` overlay): n takes the next waiting item, r focuses the reply box of
   my first conversation, w its wrap-up, ? opens the list. Keys typed into a field are the field's, never ours. */
(function () {
  "use strict";
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function focus(selector) {
    var el = document.querySelector(selector);
    if (el) { el.focus(); el.scrollIntoView({block: "nearest"}); }
    return el;
  }
  var actions = {
    n: function () {
      var b = document.querySelector("#console-queue [data-testid=accept], #console-queue [data-testid=take]");
      if (b) { b.click(); }
    },
    r: function () { focus("#console-mine textarea[name=body]") || focus("#console-mine input[name=note]"); },
    w: function () { focus("#console-mine input[name=code]"); },
    "?": function () {
      var d = document.getElementById("shortcuts");
      if (d && !d.open) { d.showModal(); } else if (d) { d.close(); }
    }
  };
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented || typing(e.target)) { return; }
    var action = actions[e.key];
    if (!action || (e.key !== "?" && document.querySelector("dialog[open]"))) { return; }
    e.preventDefault();
    action();
  });
})();
