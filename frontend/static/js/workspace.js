/* The operator's workspace (pages/workspace.html): keyboard first (listed on the `?` overlay), wait clocks, the
   watched contact following the open conversation, "is replying" over the page's socket, and @mention completion.
   Keys typed into a field are the field's, never ours (but Ctrl+Enter sends it). */
(function () {
  "use strict";
  var socket = null;
  var watched = "";
  var TYPING_EVERY = 2000;
  var lastTyping = {};

  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function send(msg) {
    if (socket) { try { socket.send(JSON.stringify(msg)); } catch (e) { /* reconnecting: the next open re-sends */ } }
  }

  /* The right pane's card and the thread follow the open conversation's contact. */
  function follow() {
    var main = document.getElementById("ws-main");
    var topic = main ? main.getAttribute("data-ws-watch") || "" : "";
    if (topic === watched) return;
    if (watched) send({ unwatch: watched });
    if (topic) send({ watch: topic });
    watched = topic;
    var thread = document.querySelector(".ws-thread");
    if (thread) thread.scrollTop = thread.scrollHeight;
  }
  document.addEventListener("htmx:wsOpen", function (evt) {
    socket = evt.detail && evt.detail.socketWrapper;
    watched = "";
    follow();
  });
  document.addEventListener("htmx:wsClose", function () { socket = null; });

  /* Selection in the list follows the URL; j/k move a cursor, Enter opens. */
  function items() { return Array.prototype.slice.call(document.querySelectorAll("#ws-list .ws-item")); }
  function cursor() {
    var all = items();
    var at = all.findIndex(function (li) { return li.classList.contains("ws-cursor"); });
    if (at < 0) at = all.findIndex(function (li) { return li.classList.contains("selected"); });
    return { all: all, at: at };
  }
  function move(step) {
    var c = cursor();
    if (!c.all.length) return;
    var next = c.at < 0 ? 0 : Math.min(c.all.length - 1, Math.max(0, c.at + step));
    c.all.forEach(function (li) { li.classList.remove("ws-cursor"); });
    c.all[next].classList.add("ws-cursor");
    var link = c.all[next].querySelector("a");
    if (link) { link.focus(); }
  }
  function markSelected() {
    var main = document.getElementById("ws-main");
    var id = main && main.getAttribute("data-conversation-id");
    items().forEach(function (li) {
      var on = id && li.getAttribute("data-conversation-id") === id;
      li.classList.toggle("selected", !!on);
      var a = li.querySelector("a");
      if (a) { if (on) a.setAttribute("aria-current", "true"); else a.removeAttribute("aria-current"); }
    });
  }
  function focus(selector) {
    var el = document.querySelector(selector);
    if (el) { el.focus(); el.scrollIntoView({ block: "nearest" }); }
    return el;
  }
  function click(selector) {
    var el = document.querySelector(selector);
    if (!el) return;
    if (window.htmx) window.htmx.process(el);  // pressed right after a swap, before htmx settled the new pane
    el.click();
  }
  var actions = {
    j: function () { move(1); },
    k: function () { move(-1); },
    ArrowDown: function () { move(1); },
    ArrowUp: function () { move(-1); },
    Enter: function () {
      var c = cursor();
      if (c.at >= 0) { var a = c.all[c.at].querySelector("a"); if (a) a.click(); }
    },
    r: function () { focus("#ws-reply textarea[name=body]"); },
    n: function () { focus("#ws-note textarea[name=body]"); },
    a: function () { click("#ws-main [data-testid=ws-take]"); },
    w: function () { focus("#ws-wrapup input[name=code]"); },
    t: function () { focus("#ws-transfer select[name=target]") || focus("#ws-main [name=target]"); },
    "?": function () {
      var d = document.getElementById("shortcuts");
      if (d && !d.open) { d.showModal(); } else if (d) { d.close(); }
    }
  };
  document.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target && e.target.form) {
      e.preventDefault();
      if (e.target.form.requestSubmit) e.target.form.requestSubmit(); else e.target.form.submit();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented || typing(e.target)) return;
    if (e.key === "Enter" && e.target && e.target.closest && e.target.closest("#ws-list a")) return;  // the link's own
    var action = actions[e.key];
    if (!action || (e.key !== "?" && document.querySelector("dialog[open]"))) return;
    e.preventDefault();
    action();
  });

  /* "Olga is replying": at most one socket message every two seconds per conversation, while typing. */
  document.addEventListener("input", function (e) {
    var box = e.target;
    if (!box.getAttribute || !box.hasAttribute("data-ws-typing")) return;
    var id = parseInt(box.getAttribute("data-ws-typing"), 10);
    var now = Date.now();
    if (!isNaN(id) && (!lastTyping[id] || now - lastTyping[id] > TYPING_EVERY)) {
      lastTyping[id] = now;
      send({ typing: id });
    }
  });
  var typingTimers = {};
  document.addEventListener("htmx:oobAfterSwap", function (e) {
    var el = e.detail && e.detail.target;
    if (el && el.id && el.id.indexOf("ws-typing-") === 0 && el.textContent.trim()) {
      clearTimeout(typingTimers[el.id]);
      typingTimers[el.id] = setTimeout(function () {
        var now = document.getElementById(el.id);
        if (now) now.textContent = "";
      }, 5000);
    }
    if (el && el.classList && el.classList.contains("ws-thread")) { el.scrollTop = el.scrollHeight; }
  });
  /* A message that arrives in the conversation on screen is read: tell the server, then refresh the list's counts. */
  var readTimer = null;
  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; }
    catch (e) { return ""; }
  }
  function markRead() {
    var main = document.getElementById("ws-main");
    var id = main && main.getAttribute("data-conversation-id");
    var slug = document.querySelector("[data-slug]");
    if (!id || !slug || document.visibilityState !== "visible") return;
    var base = "/t/" + slug.getAttribute("data-slug");
    fetch(base + "/api/v1/workspace/conversations/" + id + "/read", {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf() },
    }).then(function (r) {
      if (r.ok && window.htmx) {
        window.htmx.ajax("GET", base + "/workspace/list?selected=" + id, { target: "#ws-list", swap: "outerHTML" });
      }
    }).catch(function () { /* the count stays until the conversation is opened again */ });
  }
  document.addEventListener("htmx:oobAfterSwap", function (e) {
    var el = e.detail && e.detail.target;
    if (el && el.classList && el.classList.contains("ws-thread")) {
      clearTimeout(readTimer);
      readTimer = setTimeout(markRead, 700);
    }
  });

  /* A new item pushed into the open thread scrolls it; a reply's own item may also come twice (push + replay). */
  document.addEventListener("htmx:oobAfterSwap", function () {
    var seen = {};
    document.querySelectorAll(".ws-thread [data-interaction-id]").forEach(function (li) {
      var id = li.getAttribute("data-interaction-id");
      if (seen[id]) li.remove(); else seen[id] = true;
    });
    var thread = document.querySelector(".ws-thread");
    if (thread) thread.scrollTop = thread.scrollHeight;
    markSelected();
  });

  /* @mentions: typing @ in a note lists teammates; click, Tab or Enter completes @first.last. */
  function handle(name) { return name.toLowerCase().trim().split(/\s+/).join("."); }
  function mentionState(box) {
    var before = box.value.slice(0, box.selectionStart);
    var m = before.match(/(^|\s)@([\w.\-]*)$/);
    return m ? { start: box.selectionStart - m[2].length - 1, query: m[2].toLowerCase() } : null;
  }
  function listFor(box) { return box.form && box.form.querySelector(".ws-mention-list"); }
  function insert(box, name) {
    var st = mentionState(box);
    if (!st) return;
    box.setRangeText("@" + handle(name) + " ", st.start, box.selectionStart, "end");
    box.focus();
    var list = listFor(box);
    if (list) list.hidden = true;
  }
  document.addEventListener("input", function (e) {
    var box = e.target;
    if (!box.hasAttribute || !box.hasAttribute("data-ws-mention")) return;
    var list = listFor(box);
    var st = mentionState(box);
    if (!list) return;
    var team = [];
    try { team = JSON.parse(box.form.getAttribute("data-team") || "[]"); } catch (err) { team = []; }
    var hits = st ? team.filter(function (n) { return n && handle(n).indexOf(st.query) >= 0; }).slice(0, 6) : [];
    list.innerHTML = "";
    hits.forEach(function (n, i) {
      var li = document.createElement("li");
      li.textContent = n;
      li.setAttribute("data-testid", "ws-mention-option");
      if (i === 0) li.setAttribute("aria-selected", "true");
      li.addEventListener("mousedown", function (ev) { ev.preventDefault(); insert(box, n); });
      list.appendChild(li);
    });
    list.hidden = !hits.length;
  });
  document.addEventListener("keydown", function (e) {
    var box = e.target;
    if (!box.hasAttribute || !box.hasAttribute("data-ws-mention") || e.ctrlKey || e.metaKey) return;
    var list = listFor(box);
    if (!list || list.hidden) return;
    var opts = Array.prototype.slice.call(list.children);
    var at = opts.findIndex(function (li) { return li.getAttribute("aria-selected") === "true"; });
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      var next = Math.max(0, Math.min(opts.length - 1, at + (e.key === "ArrowDown" ? 1 : -1)));
      opts.forEach(function (li, i) { li.setAttribute("aria-selected", i === next ? "true" : "false"); });
    } else if ((e.key === "Enter" || e.key === "Tab") && at >= 0) {
      e.preventDefault();
      insert(box, opts[at].textContent);
    } else if (e.key === "Escape") {
      list.hidden = true;
    }
  }, true);

  /* Email-only fields show when the reply goes by email. */
  function channelFields() {
    var sel = document.querySelector("#ws-reply select[name=channel]");
    document.querySelectorAll("#ws-reply .ws-email-only").forEach(function (el) {
      el.hidden = !sel || sel.value !== "email";
    });
  }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.matches && e.target.matches("#ws-reply select[name=channel]")) channelFields();
  });
  function settle() { follow(); markSelected(); channelFields(); }
  document.addEventListener("DOMContentLoaded", settle);
  document.addEventListener("htmx:afterSettle", settle);
  document.addEventListener("htmx:historyRestore", settle);
})();
