/* Switchboard realtime helper for the htmx ws extension: reconnect with the last position, refresh on order.
 *
 * The page renders <div id="sb-last-event" data-event-id="{{ last_event_id }}" hidden></div> and a socket
 * element <div hx-ext="ws" ws-connect="/t/{slug}/ws">. Every message from the hub ends with a new
 * #sb-last-event (out-of-band swap) carrying a log position ("<tx>.<id>", an opaque string: the hub sends them
 * in order, only the server compares them); this script keeps the latest one and puts it in the URL of every
 * (re)connection as ?last_id=<position>, so the hub replays exactly what was missed. When the hub answers with
 * data-refresh="true" (too much missed), `sb:refresh` is dispatched on <body>: panels listen with
 * hx-trigger="sb:refresh from:body" and reload themselves. While disconnected, <body> carries the class
 * `sb-reconnecting` (style a small indicator with it). A socket closed because the session ended (4401)
 * reloads the page, which leads to the sign-in form -- unless the page is already leaving (its own sign-out form
 * ended the session: reloading then would cut that navigation short).
 *
 * Item-level pushes: a live queue event sends one item, `<div hx-swap-oob="beforeend:#list">item</div>`, for a
 * list marked [data-sb-sorted]. Before the swap the older copy of that item (same id) is dropped; after each
 * message every such list is put back in order (data-order, then data-conversation-id, ascending) -- unless the
 * queue is sorted by SLA due in this browser (sla.js keeps that order) -- and the [data-sb-empty] element after it
 * shows only while the list is empty.
 */
(function () {
  "use strict";
  var lastId = null;
  var leaving = false;
  // Reconnect with full jitter, but never wait more than 8 s (the extension's default grows to 64 s): after a
  // deploy or a restart every console is back within seconds, spread over that window.
  if (window.htmx) {
    window.htmx.config.wsReconnectDelay = function (retryCount) {
      return Math.min(8000, 500 * Math.pow(2, retryCount)) * Math.random();
    };
  }
  window.addEventListener("beforeunload", function () { leaving = true; });

  function markerId() {
    var el = document.getElementById("sb-last-event");
    if (!el) return null;
    var position = el.getAttribute("data-event-id");
    return position ? position : null;
  }

  function withCursor(url) {
    if (lastId === null) lastId = markerId();
    var base = url.replace(/([?&])last_id=[^&]*(&|$)/, "$1").replace(/[?&]$/, "");
    var sep = base.indexOf("?") >= 0 ? "&" : "?";
    return base + sep + "last_id=" + (lastId === null ? "" : encodeURIComponent(lastId));
  }

  function install() {
    if (!window.htmx || window.htmx.__sbRealtime) return;
    var create = window.htmx.createWebSocket;
    window.htmx.createWebSocket = function (url) {
      return create.call(window.htmx, /\/ws(\?|$)/.test(url) ? withCursor(url) : url);
    };
    window.htmx.__sbRealtime = true;
  }

  function key(el) {
    return [parseFloat(el.getAttribute("data-order")) || 0, parseInt(el.getAttribute("data-conversation-id"), 10) || 0];
  }

  function sortLists() {
    var bySla = false;
    try { bySla = window.localStorage.getItem("sb-sla-sort") === "due"; } catch (e) { bySla = false; }
    document.querySelectorAll("[data-sb-sorted]").forEach(function (list) {
      var items = Array.prototype.slice.call(list.children);
      if (!bySla) {
        var sorted = items.slice().sort(function (a, b) {
          var ka = key(a), kb = key(b);
          return ka[0] - kb[0] || ka[1] - kb[1];
        });
        var moved = sorted.some(function (el, i) { return el !== items[i]; });
        if (moved) sorted.forEach(function (el) { list.appendChild(el); });
      }
      var empty = list.nextElementSibling;
      if (empty && empty.hasAttribute("data-sb-empty")) empty.hidden = items.length > 0;
    });
  }

  document.addEventListener("htmx:oobBeforeSwap", function (evt) {
    var target = evt.detail && evt.detail.target, fragment = evt.detail && evt.detail.fragment;
    if (!target || !target.hasAttribute || !target.hasAttribute("data-sb-sorted") || !fragment) return;
    Array.prototype.slice.call(fragment.children || []).forEach(function (el) {
      var old = el.id && document.getElementById(el.id);
      if (old) old.remove();
    });
  });

  document.addEventListener("htmx:wsAfterMessage", function () {
    sortLists();
    var el = document.getElementById("sb-last-event");
    var position = markerId();
    if (position !== null) lastId = position;  // messages arrive in log order: the newest marker is the cursor
    if (el && el.getAttribute("data-refresh") === "true") {
      el.removeAttribute("data-refresh");
      document.body.dispatchEvent(new CustomEvent("sb:refresh", { bubbles: true }));
    }
  });
  // A live update never replaces a guarded part of the page (a card section) while a request of its own is in
  // flight: its Edit button was just clicked, and the answer (the edit form) would land in a detached element.
  document.addEventListener("htmx:oobBeforeSwap", function (evt) {
    var target = evt.detail && evt.detail.target;
    if (target && target.hasAttribute && target.hasAttribute("data-live-guard") &&
        (target.classList.contains("htmx-request") || target.querySelector(".htmx-request"))) {
      evt.detail.shouldSwap = false;
    }
  });
  document.addEventListener("htmx:wsOpen", function (evt) {
    document.body.classList.remove("sb-reconnecting");
    document.body.setAttribute("data-sb-socket", "open");  // tests (and styles) can tell the page is live
    // Pages watching one record (a contact's card, an order) ask for its channel on every (re)connection.
    var socket = evt.detail && evt.detail.socketWrapper;
    if (!socket) return;
    document.querySelectorAll("[data-sb-watch]").forEach(function (el) {
      socket.send(JSON.stringify({ watch: el.getAttribute("data-sb-watch") }));
    });
  });
  document.addEventListener("htmx:wsClose", function (evt) {
    var code = evt.detail && evt.detail.event && evt.detail.event.code;
    if (code === 4401) {
      if (!leaving) window.location.reload();
      return;
    }
    document.body.classList.add("sb-reconnecting");
  });

  install();
  document.addEventListener("DOMContentLoaded", install);
  window.sbRealtime = { lastId: function () { return lastId; } };
})();
