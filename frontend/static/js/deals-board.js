// Deals board: native HTML5 drag and drop; a drop posts the move with htmx and swaps the board it returns.
(function () {
  "use strict";
  var _ = (window.sbI18n && window.sbI18n.gettext) || function (s) { return s; };  // /i18n/{lang}.js, from base.html
  let dragged = null;
  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; }
    catch (e) { return ""; }
  }
  function move(id, stage, reason, position) {
    const board = document.getElementById("board");
    htmx.ajax("POST", board.dataset.moveUrl + id + "/move", {
      target: "#board", swap: "outerHTML",
      values: { stage: stage, reason: reason, position: position },
      headers: { "X-CSRF-Token": csrf() },
    });
  }
  function askReason(id, stage) {
    const form = document.getElementById("deal-close");
    form.elements.deal.value = id;
    form.elements.stage.value = stage.dataset.stage;
    form.querySelector("[data-role=question]").textContent =
      stage.dataset.kind === "lost" ? _("Why was it lost?") : _("Why was it won? (optional)");
    form.elements.reason.required = stage.dataset.kind === "lost";
    form.hidden = false;
    form.elements.reason.focus();
  }
  document.addEventListener("submit", function (ev) {
    const form = ev.target;
    if (form.id !== "deal-close") return;
    ev.preventDefault();
    move(form.elements.deal.value, form.elements.stage.value, form.elements.reason.value, 0);
  });
  document.addEventListener("click", function (ev) {
    if (ev.target.matches && ev.target.matches("#deal-close [data-role=cancel]")) {
      document.getElementById("deal-close").hidden = true;
    }
  });
  document.addEventListener("dragstart", function (ev) {
    const card = ev.target.closest && ev.target.closest(".deal");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    ev.dataTransfer.effectAllowed = "move";
    ev.dataTransfer.setData("text/plain", card.dataset.dealId);
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll(".stage.over").forEach(function (s) { s.classList.remove("over"); });
  });
  document.addEventListener("dragover", function (ev) {
    const stage = ev.target.closest && ev.target.closest(".stage");
    if (!stage || !dragged) return;
    ev.preventDefault();
    ev.dataTransfer.dropEffect = "move";
    stage.classList.add("over");
  });
  document.addEventListener("dragleave", function (ev) {
    const stage = ev.target.closest && ev.target.closest(".stage");
    if (stage && !stage.contains(ev.relatedTarget)) stage.classList.remove("over");
  });
  document.addEventListener("drop", function (ev) {
    const stage = ev.target.closest && ev.target.closest(".stage");
    const id = ev.dataTransfer.getData("text/plain") || (dragged && dragged.dataset.dealId);
    if (!stage || !id) return;
    ev.preventDefault();
    stage.classList.remove("over");
    if (stage.dataset.kind !== "open") {
      askReason(id, stage);  // won or lost: say why first (an inline form, not a blocking prompt)
      return;
    }
    move(id, stage.dataset.stage, "", stage.querySelectorAll(".deal").length);
  });
})();
