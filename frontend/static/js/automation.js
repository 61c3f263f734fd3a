// The no-code rule builder: renders the rule's JSON (hidden #rule-definition) as nested all/any/not groups of
// conditions (the shared editor, conditions.js) and an ordered list of actions, and writes the JSON back on every change (the form posts it).
(function () {
  "use strict";
  var _ = (window.sbI18n && window.sbI18n.gettext) || function (s) { return s; };
  var hidden = document.getElementById("rule-definition");
  var catEl = document.getElementById("automation-catalogue");
  if (!hidden || !catEl) { return; }
  var cat = JSON.parse(catEl.textContent);
  var rule = JSON.parse(hidden.value || "{}");
  var actionsByKey = {};
  cat.actions.forEach(function (a) { actionsByKey[a.key] = a; });

  var el = window.sbConditions.el, option = window.sbConditions.option;  // conditions.js, loaded before this script
  function button(label, testid, onclick) {
    var b = el("button", {type: "button", "class": "secondary small", "data-testid": testid, text: label});
    b.addEventListener("click", function () { onclick(); sync(); });
    return b;
  }

  // -- actions -------------------------------------------------------------------------------------------------
  function paramInput(a, p) {
    var input;
    var current = a[p.name] === undefined || a[p.name] === null ? "" : String(a[p.name]);
    function choices(list) {
      input = el("select", {});
      if (!p.required) { input.appendChild(option("", "—", current === "")); }
      list.forEach(function (c) { input.appendChild(option(String(c[0]), c[1], String(c[0]) === current)); });
    }
    if (p.kind === "choice") { choices(p.options.map(function (o) { return [o, o]; })); }
    else if (p.kind === "user") { choices(cat.users.map(function (u) { return [u.id, u.name]; })); }
    else if (p.kind === "queue") { choices(cat.queues.map(function (q) { return [q.key, q.name]; })); }
    else if (p.kind === "status") { choices(cat.statuses.map(function (s) { return [s, s]; })); }
    else if (p.kind === "template") { choices(cat.templates.map(function (t) { return [t.id, t.name]; })); }
    else if (p.kind === "segment") {
      choices((cat.segments || []).filter(function (s) { return s.kind === "static"; })
        .map(function (s) { return [s.id, s.name]; }));
    }
    else if (p.kind === "longtext") { input = el("textarea", {rows: "2", cols: "40"}); input.value = current; }
    else { input = el("input", {type: p.kind === "number" ? "number" : "text"}); input.value = current; }
    input.setAttribute("data-testid", "param-" + p.name);
    input.setAttribute("aria-label", p.label);
    function read() {
      var v = input.value;
      if (v === "") { delete a[p.name]; }
      else {
        a[p.name] = (p.kind === "number" || p.kind === "user" || p.kind === "template" || p.kind === "segment")
          ? Number(v) : v;
      }
    }
    if (current === "" && input.tagName === "SELECT" && p.required) { read(); }
    input.addEventListener("input", function () { read(); sync(); });
    input.addEventListener("change", function () { read(); sync(); });
    return el("label", {}, [document.createTextNode(p.label + " "), input]);
  }

  function renderAction(a, i) {
    var li = el("li", {"class": "action row", "data-testid": "action-editor", "data-type": a.type});
    var type = el("select", {"data-testid": "action-type", "aria-label": _("Action")});
    cat.actions.forEach(function (x) { type.appendChild(option(x.key, x.label, x.key === a.type)); });
    type.addEventListener("change", function () {
      Object.keys(a).forEach(function (k) { delete a[k]; });
      a.type = type.value; render();
    });
    li.appendChild(type);
    (actionsByKey[a.type] || {params: []}).params.forEach(function (p) { li.appendChild(paramInput(a, p)); });
    li.append(button("↑", "action-up", function () {
      if (i > 0) { rule.actions.splice(i - 1, 0, rule.actions.splice(i, 1)[0]); render(); }
    }), button("↓", "action-down", function () {
      if (i < rule.actions.length - 1) { rule.actions.splice(i + 1, 0, rule.actions.splice(i, 1)[0]); render(); }
    }), button("✕", "remove-action", function () { rule.actions.splice(i, 1); render(); }));
    return li;
  }

  // -- the whole rule ------------------------------------------------------------------------------------------
  // The conditions: the shared tree editor (conditions.js, loaded before this script).
  var conditions = null;
  rule.actions = rule.actions || [];
  var name = document.getElementById("rule-name");
  var event = document.getElementById("rule-event");
  var trigger = document.getElementById("rule-trigger");
  var delay = document.getElementById("rule-delay");
  var rate = document.getElementById("rule-rate");
  var schedule = document.getElementById("rule-schedule");
  // name, event, trigger, delay and rate come rendered by the server (typed before this script ran: kept)

  function sync() {
    rule.name = name.value;
    rule.event = event.value;
    rule.trigger = trigger.value;
    rule.delay_minutes = trigger.value === "delay" ? (parseInt(delay.value, 10) || 0) : 0;
    rule.schedule = trigger.value === "schedule" ? schedule.value.trim() : "";
    document.getElementById("rule-schedule-label").hidden = trigger.value !== "schedule";
    document.getElementById("rule-event-label").hidden = trigger.value === "schedule";
    rule.rate_limit = parseInt(rate.value, 10) || 0;
    document.getElementById("rule-delay-label").hidden = trigger.value !== "delay";
    if (conditions) { rule.conditions = conditions.value(); }
    hidden.value = JSON.stringify(rule);
  }
  function render() {
    var list = document.getElementById("rule-actions");
    list.replaceChildren.apply(list, rule.actions.map(renderAction));
    sync();
  }
  [name, event, trigger, delay, rate, schedule].forEach(function (input) {
    input.addEventListener("input", sync);
    input.addEventListener("change", sync);
  });
  document.getElementById("add-action").addEventListener("click", function () {
    rule.actions.push({type: "add_tag"}); render();
  });
  conditions = window.sbConditions.editor(document.getElementById("rule-conditions"), cat, rule.conditions,
                                          function () { sync(); });
  render();
})();
