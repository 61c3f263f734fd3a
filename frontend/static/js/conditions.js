// The condition tree editor shared by the automation builder and the segment builder: nested all/any/not groups
// of leaves {field, op, value}, rendered from a catalogue ({entities, fields, ops, fieldless, segments, kind_ops?})
// and written back as JSON through onChange. One tree, one editor (app.lib.conditions is the server's half).
(function () {
  "use strict";
  var _ = (window.sbI18n && window.sbI18n.gettext) || function (s) { return s; };
  var NUMBER_OPS = ["gt", "lt", "days_ago_lt", "days_ago_gt"];

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
  function fromModel(m, fieldsByPath) {
    if (m.leaf) {
      var out = {field: m.field, op: m.op};
      if (m.op === "has_tag" || m.op === "time_between") { delete out.field; }
      if (m.op !== "is_set") {
        var raw = m.value === undefined || m.value === null ? "" : m.value;
        var f = fieldsByPath[m.field];
        if (m.op === "in") {
          out.value = (Array.isArray(raw) ? raw : String(raw).split(",")).map(function (s) { return String(s).trim(); })
            .filter(function (s) { return s; });
        } else if (NUMBER_OPS.indexOf(m.op) >= 0 || (f && f.kind === "segment")) {
          out.value = Number(raw);
        } else { out.value = String(raw); }
      }
      return out;
    }
    var kids = m.children.map(function (c) { return fromModel(c, fieldsByPath); });
    if (m.kind === "not") { return {not: kids.length === 1 ? kids[0] : {all: kids}}; }
    var g = {};
    g[m.kind] = kids;
    return g;
  }

  // editor(box, cat, tree, onChange): renders `tree` into `box`; onChange(json) after every edit.
  function editor(box, cat, initial, onChange) {
    var fieldsByPath = {};
    cat.fields.forEach(function (f) { fieldsByPath[f.path] = f; });
    var tree = toModel(initial);
    if (tree.leaf) { tree = {kind: "all", children: [tree]}; }

    function value() { return fromModel(tree, fieldsByPath); }
    function sync() { onChange(value()); }
    function button(label, testid, onclick) {
      var b = el("button", {type: "button", "class": "secondary small", "data-testid": testid, text: label});
      b.addEventListener("click", function () { onclick(); sync(); });
      return b;
    }
    function opsFor(m) {
      var f = fieldsByPath[m.field];
      var kind = f ? f.kind : (m.field.indexOf("contact.custom.") === 0 ? "custom" : "");
      if (!cat.kind_ops || !kind || !cat.kind_ops[kind]) { return Object.keys(cat.ops); }
      return cat.kind_ops[kind].concat(m.field === "contact.tags" ? ["has_tag"] : []);
    }

    function renderLeaf(m, parent) {
      var leaf = el("div", {"class": "cond-leaf row", "data-testid": "leaf-editor"});
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
      var value = el("input", {"data-testid": "leaf-value", "aria-label": _("Value"), size: "16"});
      value.value = Array.isArray(m.value) ? m.value.join(", ") : (m.value === undefined || m.value === null ? "" : m.value);
      var segment = el("select", {"data-testid": "leaf-segment", "aria-label": _("Segment")});
      (cat.segments || []).forEach(function (s) { segment.appendChild(option(String(s.id), s.name, String(s.id) === String(m.value))); });
      function fillOps() {
        var allowed = opsFor(m);
        if (allowed.indexOf(m.op) < 0) { m.op = allowed[0]; }
        op.replaceChildren.apply(op, allowed.map(function (k) { return option(k, cat.ops[k] || k, k === m.op); }));
      }
      function refresh() {
        var fieldless = cat.fieldless.indexOf(m.op) >= 0;
        var f = fieldsByPath[m.field];
        var isSegment = !!(f && f.kind === "segment");
        field.hidden = fieldless;
        custom.hidden = fieldless || field.value !== "contact.custom.";
        value.hidden = m.op === "is_set" || isSegment;
        segment.hidden = !isSegment;
        if (isSegment && (m.value === undefined || m.value === "" || m.value === null) && segment.value) {
          m.value = segment.value;
        }
        value.placeholder = m.op === "in" ? _("a, b, c") : m.op === "time_between" ? "09:00-17:30" : "";
        value.title = f && f.options.length ? f.options.join(", ") : "";
      }
      field.addEventListener("change", function () {
        m.field = field.value === "contact.custom." ? "contact.custom." + custom.value.trim() : field.value;
        fillOps(); refresh(); sync();
      });
      custom.addEventListener("input", function () { m.field = "contact.custom." + custom.value.trim(); sync(); });
      op.addEventListener("change", function () { m.op = op.value; refresh(); sync(); });
      value.addEventListener("input", function () { m.value = value.value; sync(); });
      segment.addEventListener("change", function () { m.value = segment.value; sync(); });
      leaf.append(field, custom, op, value, segment, button("✕", "remove-leaf", function () {
        parent.children.splice(parent.children.indexOf(m), 1); render();
      }));
      fillOps();
      refresh();
      return leaf;
    }

    function renderGroup(m, parent) {
      var group = el("div", {"class": "cond-group", "data-testid": "group", "data-kind": m.kind});
      var kind = el("select", {"data-testid": "group-kind", "aria-label": _("Group")});
      [["all", _("all of these hold")], ["any", _("any of these holds")], ["not", _("none of these holds")]]
        .forEach(function (k) { kind.appendChild(option(k[0], k[1], k[0] === m.kind)); });
      kind.addEventListener("change", function () { m.kind = kind.value; group.setAttribute("data-kind", m.kind); sync(); });
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
      group.appendChild(head);
      var list = el("div", {"class": "cond-children"});
      m.children.forEach(function (child) {
        list.appendChild(child.leaf ? renderLeaf(child, m) : renderGroup(child, m));
      });
      group.appendChild(list);
      return group;
    }

    function render() {
      box.replaceChildren(renderGroup(tree, null));
      sync();
    }
    render();
    return {value: value, render: render};
  }

  window.sbConditions = {editor: editor, toModel: toModel, fromModel: fromModel, el: el, option: option};
})();
