// The no-code rule builder: renders the rule's JSON (hidden #rule-definition) as nested all/any/not groups of
// conditions and an ordered list of actions, and writes the JSON back on every change (the form posts it).
(function () {
  "use strict";
  var _ = (window.sbI18n && window.sbI18n.gettext) || function (s) { return s; };
  var hidden = document.getElementById("rule-definition");
  var catEl = document.getElementById("automation-catalogue");
  if (!hidden || !catEl) { return; }
  var cat = JSON.parse(catEl.textContent);
  var rule = JSON.parse(hidden.value || "{}");
  var fieldsByPath = {};
  cat.fields.forEach(function (f) { fieldsByPath[f.path] = f; });
  var actionsByKey = {};
  cat.actions.forEach(function (a) { actionsByKey[a.key] = a; });

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }
  function option(value, label, selected) {
    var o = new Option(label, value);
    if (selected) { o.selected = true; }
    return o;
  }
  function button(label, testid, onclick) {
    var b = el("button", {type: "button", "class": "secondary small", "data-testid": testid, text: label});
    b.addEventListener("click", function () { onclick(); sync(); });
    return b;
  }

  // -- conditions: a tree of {kind: all|any|not, children: [...]} and leaves {field, op, value} ------------------
  function toModel(node) {
    if (!node || (typeof node === "object" && Object.keys(node).length === 0)) { return {kind: "all", children: []}; }
    if (node.all) { return {kind: "all", children: node.all.map(toModel)}; }
    if (node.any) { return {kind: "any", children: node.any.map(toModel)}; }
    if (node.not) {
      var inner = node.not.all ? node.not.all.map(toModel) : [toModel(node.not)];
      return {kind: "not", children: inner};
    }
    return {leaf: true, field: node.field || "", op: node.op || "equals", value: node.value};
  }
  function fromModel(m) {
    if (m.leaf) {
      var out = {field: m.field, op: m.op};
      if (m.op === "has_tag" || m.op === "time_between") { delete out.field; }
      if (m.op !== "is_set") {
        var raw = m.value === undefined || m.value === null ? "" : m.value;
        if (m.op === "in") {
          out.value = (Array.isArray(raw) ? raw : String(raw).split(",")).map(function (s) { return String(s).trim(); })
            .filter(function (s) { return s; });
        } else if (m.op === "gt" || m.op === "lt") {
          out.value = Number(raw);
        } else { out.value = String(raw); }
      }
      return out;
    }
    var kids = m.children.map(fromModel);
    if (m.kind === "not") { return {not: kids.length === 1 ? kids[0] : {all: kids}}; }
    var g = {};
    g[m.kind] = kids;
    return g;
  }

  function renderLeaf(m, parent) {
    var box = el("div", {"class": "cond-leaf row", "data-testid": "leaf-editor"});
    var field = el("select", {"data-testid": "leaf-field", "aria-label": _("Field")});
    Object.keys(cat.entities).forEach(function (entity) {
      var group = el("optgroup", {label: cat.entities[entity]});
      cat.fields.filter(function (f) { return f.entity === entity; }).forEach(function (f) {
        group.appendChild(option(f.path, f.label, f.path === m.field));
      });
      if (entity === "contact") {
        group.appendChild(option("contact.custom.", _("Custom field…"), m.field && m.field.indexOf("contact.custom.") === 0));
      }
      field.appendChild(group);
    });
    if (!m.field) { m.field = field.value; }
    var custom = el("input", {"data-testid": "leaf-custom", placeholder: _("custom field key"), size: "12"});
    if (m.field.indexOf("contact.custom.") === 0) { custom.value = m.field.slice("contact.custom.".length); }
    var op = el("select", {"data-testid": "leaf-op", "aria-label": _("Operator")});
    Object.keys(cat.ops).forEach(function (k) { op.appendChild(option(k, cat.ops[k], k === m.op)); });
    var value = el("input", {"data-testid": "leaf-value", "aria-label": _("Value"), size: "16"});
    value.value = Array.isArray(m.value) ? m.value.join(", ") : (m.value === undefined || m.value === null ? "" : m.value);
    function refresh() {
      var fieldless = cat.fieldless.indexOf(m.op) >= 0;
      field.hidden = fieldless;
      custom.hidden = fieldless || field.value !== "contact.custom.";
      value.hidden = m.op === "is_set";
      value.placeholder = m.op === "in" ? _("a, b, c") : m.op === "time_between" ? "09:00-17:30" : "";
      var f = fieldsByPath[m.field];
      value.setAttribute("list", "");
      if (f && f.options.length) { value.title = f.options.join(", "); }
    }
    field.addEventListener("change", function () {
      m.field = field.value === "contact.custom." ? "contact.custom." + custom.value.trim() : field.value;
      refresh(); sync();
    });
    custom.addEventListener("input", function () { m.field = "contact.custom." + custom.value.trim(); sync(); });
    op.addEventListener("change", function () { m.op = op.value; refresh(); sync(); });
    value.addEventListener("input", function () { m.value = value.value; sync(); });
    box.append(field, custom, op, value, button("✕", "remove-leaf", function () {
      parent.children.splice(parent.children.indexOf(m), 1); render();
    }));
    refresh();
    return box;
  }

  function renderGroup(m, parent) {
    var box = el("div", {"class": "cond-group", "data-testid": "group", "data-kind": m.kind});
    var kind = el("select", {"data-testid": "group-kind", "aria-label": _("Group")});
    [["all", _("all of these hold")], ["any", _("any of these holds")], ["not", _("none of these holds")]]
      .forEach(function (k) { kind.appendChild(option(k[0], k[1], k[0] === m.kind)); });
    kind.addEventListener("change", function () { m.kind = kind.value; box.setAttribute("data-kind", m.kind); sync(); });
    var head = el("div", {"class": "row"}, [kind]);
    head.append(button(_("+ Condition"), "add-leaf", function () {
      m.children.push({leaf: true, field: "", op: "equals", value: ""}); render();
    }), button(_("+ Group"), "add-group", function () {
      m.children.push({kind: "any", children: []}); render();
    }));
    if (parent) {
      head.append(button(_("Remove group"), "remove-group", function () {
        parent.children.splice(parent.children.indexOf(m), 1); render();
      }));
    }
    box.appendChild(head);
    var list = el("div", {"class": "cond-children"});
    m.children.forEach(function (child) {
      list.appendChild(child.leaf ? renderLeaf(child, m) : renderGroup(child, m));
    });
    box.appendChild(list);
    return box;
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
    else if (p.kind === "longtext") { input = el("textarea", {rows: "2", cols: "40"}); input.value = current; }
    else { input = el("input", {type: p.kind === "number" ? "number" : "text"}); input.value = current; }
    input.setAttribute("data-testid", "param-" + p.name);
    input.setAttribute("aria-label", p.label);
    function read() {
      var v = input.value;
      if (v === "") { delete a[p.name]; }
      else { a[p.name] = (p.kind === "number" || p.kind === "user" || p.kind === "template") ? Number(v) : v; }
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
  var tree = toModel(rule.conditions);
  if (tree.leaf) { tree = {kind: "all", children: [tree]}; }
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
    rule.conditions = fromModel(tree);
    hidden.value = JSON.stringify(rule);
  }
  function render() {
    var box = document.getElementById("rule-conditions");
    box.replaceChildren(renderGroup(tree, null));
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
  render();
})();
