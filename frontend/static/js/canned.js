/* Canned responses in every reply box (`textarea[data-canned]`): "/shortcut" then Tab or Enter, or the picker next
   to the box (the server's `_partials/canned_picker.html` when the page has one, else one made here), inserts the
   snippet rendered by the server for the box's conversation (`data-conversation-id`) or contact (`data-contact-id`).
   Drafts of boxes with an id survive live re-renders of the panel around them. */
(function () {
  "use strict";
  var _ = (window.sbI18n && window.sbI18n.gettext) || function (s) { return s; };  // /i18n/{lang}.js, from base.html
  var TOKEN = /(^|\s)\/([a-z0-9][a-z0-9_-]{0,39})$/;
  var BOXES = "textarea[data-canned]";
  var loading = null;
  var drafts = {};
  var lastFocused = null;

  function slug() {
    var m = location.pathname.match(/^\/t\/([a-z][a-z0-9_]*)\//);
    return m ? m[1] : null;
  }
  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; }
    catch (e) { return ""; }
  }
  function api(path) { return "/t/" + slug() + "/api/v1" + path; }

  function load() {
    if (!loading) {
      loading = fetch(api("/email-templates?kind=canned"), {
        credentials: "same-origin", headers: { Accept: "application/json" },
      }).then(function (r) { return r.ok ? r.json() : []; }).catch(function () { return []; });
    }
    return loading;
  }

  function render(box, id) {
    var contact = parseInt(box.getAttribute("data-contact-id") || "", 10);
    var conversation = parseInt(box.getAttribute("data-conversation-id") || "", 10);
    var body = isNaN(conversation) ? { contact_id: isNaN(contact) ? null : contact } : { conversation_id: conversation };
    return fetch(api("/email-templates/" + id + "/render"), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
    }).then(function (r) {
      if (!r.ok) throw new Error("canned response not rendered: " + r.status);
      return r.json();
    });
  }

  /* Replace box.value[start:end] (the typed "/shortcut", or the caret for the picker) with the rendered text. */
  function expand(box, tpl, start, end) {
    var typed = box.value.slice(start, end);
    box.setAttribute("aria-busy", "true");
    return render(box, tpl.id).then(function (out) {
      if (box.value.slice(start, end) !== typed) {  // the text moved while we waited: find the shortcut again
        var at = typed ? box.value.lastIndexOf(typed) : -1;
        if (typed && at < 0) return;
        if (at >= 0) { start = at; end = at + typed.length; }
      }
      box.focus();
      box.setRangeText(out.body, start, end, "end");
      box.dispatchEvent(new Event("input", { bubbles: true }));
    }).catch(function () {
      box.classList.add("canned-error");  // the text stays as typed
    }).finally(function () {
      box.removeAttribute("aria-busy");
    });
  }

  function onKey(ev) {
    var box = ev.target;
    if (!box.matches || !box.matches(BOXES)) return;
    if ((ev.key !== "Tab" && ev.key !== "Enter") || ev.shiftKey || ev.altKey || ev.ctrlKey || ev.metaKey
        || ev.isComposing || box.selectionStart !== box.selectionEnd) return;
    var m = box.value.slice(0, box.selectionStart).match(TOKEN);
    if (!m || !box._cannedItems) return;
    var tpl = box._cannedItems.filter(function (t) { return t.shortcut === m[2]; })[0];
    if (!tpl) return;  // not a shortcut: Tab and Enter keep their usual meaning
    ev.preventDefault();
    expand(box, tpl, box.selectionStart - m[2].length - 1, box.selectionStart);
  }

  /* The server-rendered picker of this box (_partials/canned_picker.html), if the page has one. */
  function serverPicker(box) {
    if (box.id) {
      var named = document.querySelector('select[data-canned-picker][data-canned-for="' + box.id + '"]');
      if (named) return named;
    }
    var form = box.closest("form");
    return form ? form.querySelector("select[data-canned-picker]:not([data-canned-for])") : null;
  }

  function picker(box, items) {
    var pick = serverPicker(box);
    if (!pick) {
      pick = document.createElement("select");
      pick.className = "canned-picker";
      pick.setAttribute("aria-label", _("Insert a canned response"));
      pick.setAttribute("data-testid", "canned-picker");
      pick.add(new Option(_("Canned response…"), ""));
      items.forEach(function (t) { pick.add(new Option(t.name + (t.shortcut ? "  /" + t.shortcut : ""), t.id)); });
      box.insertAdjacentElement("afterend", pick);
    }
    pick.addEventListener("change", function () {
      var tpl = items.filter(function (t) { return String(t.id) === pick.value; })[0];
      pick.value = "";
      if (tpl) expand(box, tpl, box.selectionStart, box.selectionEnd);
    });
  }

  function restore(box) {
    if (!box.id || box.value || !drafts[box.id]) return;
    box.value = drafts[box.id];
    if (lastFocused === box.id && (!document.activeElement || document.activeElement === document.body)) {
      box.focus();
      box.setSelectionRange(box.value.length, box.value.length);
    }
  }

  function enhance() {
    if (!slug()) return;
    var boxes = Array.prototype.slice.call(document.querySelectorAll(BOXES + ":not([data-canned-ready])"));
    if (!boxes.length) return;
    boxes.forEach(function (box) { box.setAttribute("data-canned-ready", ""); restore(box); });
    load().then(function (items) {
      boxes.forEach(function (box) {
        box._cannedItems = items;
        if (items.length) {
          box.title = _("Type /shortcut and Tab to insert a canned response");
          picker(box, items);
        }
      });
    });
  }

  document.addEventListener("keydown", onKey);
  document.addEventListener("input", function (ev) {
    var box = ev.target;
    if (box.matches && box.matches(BOXES) && box.id) drafts[box.id] = box.value;
  });
  document.addEventListener("focusin", function (ev) {
    lastFocused = ev.target.matches && ev.target.matches(BOXES) ? ev.target.id || null : null;
  });
  document.addEventListener("htmx:afterRequest", function (ev) {
    // A sent form forgets its drafts; a panel reloading itself (a GET) must not.
    var elt = ev.detail && ev.detail.elt;
    var verb = ev.detail && ev.detail.requestConfig && ev.detail.requestConfig.verb;
    if (ev.detail.successful && verb && verb !== "get" && elt && elt.querySelectorAll) {
      elt.querySelectorAll(BOXES).forEach(function (box) { delete drafts[box.id]; });
    }
  });
  document.addEventListener("DOMContentLoaded", enhance);
  document.addEventListener("htmx:load", enhance);
  document.addEventListener("htmx:oobAfterSwap", enhance);
  document.addEventListener("htmx:afterSettle", enhance);
})();
