/* Switchboard web chat widget, served as /t/{slug}/widget.js and embedded on the shop's own site:
 *   <script src="https://switchboard.example/t/{slug}/widget.js" async></script>
 * No cookies: the chat token lives in this site's localStorage (key "sb-chat:{slug}") and travels as the
 * X-Chat-Token header, or as the websocket's second subprotocol (["sb-chat", token]). The UI sits in a shadow root so the shop's CSS cannot break
 * it and ours cannot leak. Server messages: {"type": "sync", "full": bool, "messages": [...]} and {"type": "typing"}.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) return;
  var src = new URL(script.src);
  var match = src.pathname.match(/^\/t\/([a-z][a-z0-9_]{2,40})\/widget\.js$/);
  if (!match || window.__sbChatLoaded) return;
  window.__sbChatLoaded = true;
  var slug = match[1];
  var api = src.origin + "/t/" + slug + "/chat";
  var wsBase = (src.protocol === "https:" ? "wss://" : "ws://") + src.host + "/t/" + slug + "/chat/ws";
  var storeKey = "sb-chat:" + slug;
  var TYPING_EVERY = 2000, TYPING_SHOWN = 5000;
  // The server puts the visitor's language here (their browser's, else the shop's) when it serves the script; once
  // the chat is linked to a contact who has a language, the widget switches to it (speak(), from GET /strings).
  var i18n = /*SB_I18N*/null;
  function _(s) { return i18n && i18n.gettext ? i18n.gettext(s) : s; }
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; }); }

  function load() { try { return localStorage.getItem(storeKey); } catch (e) { return null; } }
  function save(t) { try { if (t) localStorage.setItem(storeKey, t); else localStorage.removeItem(storeKey); } catch (e) { /* private mode */ } }

  var token = load(), socket = null, retry = 0, lastTyping = 0, typingTimer = null, messages = [], isOpen = false;

  var host = document.createElement("div");
  host.id = "sb-chat";
  host.setAttribute("data-testid", "sb-chat");
  var root = host.attachShadow({ mode: "open" });
  root.innerHTML =
    "<style>" +
    ":host{all:initial;font:14px/1.4 system-ui,sans-serif;color:#101828}" +
    ".bubble{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;background:#1d4ed8;color:#fff;font-size:24px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483646;display:flex;align-items:center;justify-content:center}" +
    ".panel{position:fixed;right:20px;bottom:88px;width:min(340px,calc(100vw - 40px));height:min(460px,calc(100vh - 120px));display:none;flex-direction:column;background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);overflow:hidden;z-index:2147483647}" +
    ".panel.open{display:flex}.head{background:#1d4ed8;color:#fff;padding:10px 12px;font-weight:600}" +
    ".log{flex:1;overflow-y:auto;padding:10px;display:flex;flex-direction:column;gap:6px;background:#f9fafb}" +
    ".msg{max-width:80%;padding:6px 10px;border-radius:10px;white-space:pre-wrap;word-break:break-word}" +
    ".in{align-self:flex-end;background:#1d4ed8;color:#fff}.out{align-self:flex-start;background:#fff;border:1px solid #eaecf0}" +
    ".st{display:block;font-size:11px;opacity:.75;text-align:right}.at{font-size:11px;opacity:.75;margin-left:6px}.who{display:block;font-size:11px;color:#667085}" +
    ".typing{font-size:12px;color:#667085;padding:0 10px 4px}.err{color:#b42318;font-size:12px;padding:0 10px}" +
    "form{display:flex;gap:6px;padding:8px;border-top:1px solid #eaecf0}textarea{flex:1;resize:none;font:inherit;padding:6px;border:1px solid #d0d5dd;border-radius:8px}" +
    "button.send{background:#1d4ed8;color:#fff;border:0;border-radius:8px;padding:0 12px;cursor:pointer}" +
    ".me{display:flex;gap:4px;padding:6px 8px;border-top:1px solid #eaecf0}.me input{flex:1;min-width:0;font:inherit;padding:4px;border:1px solid #d0d5dd;border-radius:6px}" +
    ".me button{font:inherit;border:1px solid #d0d5dd;background:#fff;border-radius:6px;cursor:pointer}" +
    "</style>" +
    "<button class='bubble' type='button' data-testid='sb-chat-bubble'><svg aria-hidden='true' focusable='false' width='26' height='26' viewBox='0 0 24 24' fill='none' stroke='currentColor' stroke-width='2' stroke-linecap='round' stroke-linejoin='round'><path d='M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-4.9A8 8 0 1 1 21 12z'/></svg></button>" +
    "<div class='panel' role='dialog' data-testid='sb-chat-panel'>" +
    "<div class='head' data-testid='sb-chat-head'></div>" +
    "<div class='log' data-testid='sb-chat-log' aria-live='polite'></div>" +
    "<div class='typing' data-testid='sb-chat-typing' hidden></div>" +
    "<div class='err' data-testid='sb-chat-error' hidden></div>" +
    "<form class='me' data-testid='sb-chat-me'><input name='email' type='email'>" +
    "<input name='phone' type='tel'><button type='submit' data-testid='sb-chat-me-save'></button></form>" +
    "<form class='say'><textarea rows='2' data-testid='sb-chat-input'></textarea>" +
    "<button class='send' type='submit' data-testid='sb-chat-send'></button></form></div>";
  var $ = function (sel) { return root.querySelector(sel); };

  // Every fixed string of the widget: [selector, attribute (null: the text), text in the current language].
  function applyStrings() {
    [[".bubble", "aria-label", _("Chat with us")], [".panel", "aria-label", _("Chat")], [".head", null, _("Chat with us")],
     [".typing", null, _("Typing…")], ["input[name=email]", "placeholder", _("Email (optional)")],
     ["input[name=email]", "aria-label", _("Your email")], ["input[name=phone]", "placeholder", _("Phone")],
     ["input[name=phone]", "aria-label", _("Your phone")], ["form.me button", null, _("Save")],
     ["textarea", "aria-label", _("Your message")], ["textarea", "placeholder", _("Write a message…")],
     [".send", null, _("Send")]].forEach(function (t) {
      var el = $(t[0]);
      if (t[1]) el.setAttribute(t[1], t[2]); else el.textContent = t[2];
    });
    if (i18n && i18n.language) $(".panel").setAttribute("lang", i18n.language);
  }
  applyStrings();
  var panel = $(".panel"), log = $(".log"), input = $("textarea"), typingEl = $(".typing"), errEl = $(".err");

  function showError(text) { errEl.textContent = text || ""; errEl.hidden = !text; }

  function request(method, path, body) {
    var headers = { "Content-Type": "application/json" };
    if (token) headers["X-Chat-Token"] = token;
    return fetch(api + path, { method: method, headers: headers, credentials: "omit", mode: "cors",
                               body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (resp) {
        if (resp.status === 204) return null;
        return resp.json().catch(function () { return {}; }).then(function (data) {
          if (!resp.ok) { var e = new Error(data.detail || (_("Error") + " " + resp.status)); e.status = resp.status; throw e; }
          return data;
        });
      });
  }

  // The chat is linked to a contact with a language (the socket's frames and POST /contact say which): speak it.
  var asked = "";
  function follow(language) {
    if (!language || language === asked || (i18n && i18n.language === language)) return;
    asked = language;
    request("GET", "/strings").then(function (data) {
      if (!data || !data.language) return;
      var messages = data.messages || {};
      i18n = { language: data.language,
               gettext: function (s) { var t = messages[s]; return typeof t === "string" ? t : s; } };
      timeFormats = {};
      applyStrings(); render();
    }).catch(function () { asked = ""; });
  }

  function ensureSession() {
    if (token) return Promise.resolve(token);
    return request("POST", "/sessions", { page_url: String(location.href).slice(0, 500) }).then(function (data) {
      token = data.token; save(token); connect(); return token;
    });
  }

  var greeting = null;
  // Message times: in the contact's time zone when the shop knows it (the socket's first frame says), else the
  // browser's; in the widget's language.
  var zone = "", timeFormats = {};
  function timeFormat() {
    if (!(zone in timeFormats)) {
      var opts = { hour: "2-digit", minute: "2-digit" };
      if (zone) opts.timeZone = zone;
      try { timeFormats[zone] = new Intl.DateTimeFormat((i18n && i18n.language) || undefined, opts); }
      catch (e) { timeFormats[zone] = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" }); }
    }
    return timeFormats[zone];
  }
  function stamp(iso) {
    var at = new Date(iso), el = document.createElement("time");
    el.className = "at"; el.setAttribute("datetime", iso); el.setAttribute("data-testid", "sb-chat-time");
    if (!isNaN(at.getTime())) {
      el.textContent = timeFormat().format(at);
      el.setAttribute("data-zone", timeFormat().resolvedOptions().timeZone);
    }
    return el;
  }

  function render() {
    log.textContent = "";
    if (greeting) {
      var hello = document.createElement("div");
      hello.className = "msg out"; hello.setAttribute("data-testid", "sb-chat-greeting"); hello.textContent = greeting;
      log.appendChild(hello);
    }
    messages.forEach(function (m) {
      var div = document.createElement("div");
      div.className = "msg " + m.direction;
      div.setAttribute("data-testid", "sb-chat-message");
      div.setAttribute("data-direction", m.direction);
      div.setAttribute("data-status", m.status);
      if (m.direction === "out") {
        var who = document.createElement("span"); who.className = "who"; who.textContent = m.author_label; div.appendChild(who);
      }
      div.appendChild(document.createTextNode(m.body));
      if (m.created_at) div.appendChild(stamp(m.created_at));
      if (m.direction === "in") {
        var st = document.createElement("span"); st.className = "st"; st.setAttribute("data-testid", "sb-chat-status");
        st.textContent = m.status === "read" ? _("Read") : m.status === "delivered" ? _("Delivered") : _("Sent");
        div.appendChild(st);
      }
      log.appendChild(div);
    });
    log.scrollTop = log.scrollHeight;
    markRead();
  }

  function markRead() {
    if (!isOpen || document.hidden || !socket || socket.readyState !== 1) return;
    var newest = 0;
    messages.forEach(function (m) { if (m.direction === "out" && m.status !== "read" && m.id > newest) newest = m.id; });
    if (newest) socket.send(JSON.stringify({ read: newest }));
  }

  // With the socket open a message goes over it (the server files it in a group commit and answers "sent" with the
  // stored message, or "error"); before it opens, by POST.
  var pending = {}, nextRef = 1;
  function say(body) {
    if (!socket || socket.readyState !== 1) return request("POST", "/messages", { body: body });
    return new Promise(function (resolve, reject) {
      var ref = String(nextRef++);
      pending[ref] = { resolve: resolve, reject: reject };
      socket.send(JSON.stringify({ send: body, ref: ref }));
    });
  }

  function connect() {
    if (!token || (socket && socket.readyState <= 1)) return;
    socket = new WebSocket(wsBase, ["sb-chat", token]); // the token rides in the handshake, not the URL
    socket.onopen = function () { retry = 0; showError(""); };
    socket.onmessage = function (evt) {
      var msg; try { msg = JSON.parse(evt.data); } catch (e) { return; }
      if (msg.type === "sync") {
        if (msg.full) zone = msg.time_zone || "";
        follow(msg.language);
        // The first frame is the whole chat; later ones carry what may have changed, merged by id.
        var byId = {}, known = {};
        messages.forEach(function (m) { known[m.id] = true; });
        (msg.full ? [] : messages).concat(msg.messages || []).forEach(function (m) { byId[m.id] = m; });
        messages = Object.keys(byId).map(function (k) { return byId[k]; }).sort(function (x, y) { return x.id - y.id; });
        // "Typing" ends when the operator's message arrives, not on a mere delivery-state change.
        if ((msg.messages || []).some(function (m) { return m.direction === "out" && !known[m.id]; })) {
          typingEl.hidden = true;
          clearTimeout(typingTimer);
        }
        render();
      } else if ((msg.type === "sent" || msg.type === "error") && pending[msg.ref]) {
        var waiter = pending[msg.ref];
        delete pending[msg.ref];
        if (msg.type === "sent") waiter.resolve(msg.message);
        else { var e = new Error(msg.detail || _("Error")); e.status = msg.status_code; waiter.reject(e); }
      } else if (msg.type === "typing") {
        typingEl.hidden = false;
        clearTimeout(typingTimer);
        typingTimer = setTimeout(function () { typingEl.hidden = true; }, TYPING_SHOWN);
      }
    };
    socket.onclose = function (evt) {
      socket = null;
      // Messages handed over without an answer may be stored or not: the next sync shows which.
      Object.keys(pending).forEach(function (ref) { pending[ref].reject(new Error(_("Connection lost. Reconnecting…"))); });
      pending = {};
      if (evt.code === 4404) { token = null; save(null); return; } // the chat is gone: the next message starts anew
      if (evt.code === 4403) { showError(_("Chat is not available on this site.")); return; }
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 500 * Math.pow(2, retry - 1));
    };
  }

  $(".bubble").addEventListener("click", function () {
    isOpen = !panel.classList.contains("open");
    panel.classList.toggle("open", isOpen);
    if (isOpen) { input.focus(); markRead(); }
    if (isOpen && greeting === null) {
      greeting = "";
      request("GET", "/config").then(function (cfg) { greeting = cfg.greeting || ""; render(); }).catch(function () {});
    }
  });
  document.addEventListener("visibilitychange", markRead);

  $("form.say").addEventListener("submit", function (evt) {
    evt.preventDefault();
    var body = input.value.trim();
    if (!body) return;
    input.disabled = true;
    ensureSession().then(function () { return say(body); }).then(function (m) {
      input.value = ""; showError("");
      if (!messages.some(function (x) { return x.id === m.id; })) { messages.push(m); render(); }
    }).catch(function (e) {
      if (e.status === 404) { token = null; save(null); }
      showError(e.message);
    }).then(function () { input.disabled = false; input.focus(); });
  });
  input.addEventListener("keydown", function (evt) {
    if (evt.key === "Enter" && !evt.shiftKey && !evt.isComposing) { evt.preventDefault(); $("form.say").requestSubmit(); }
  });
  input.addEventListener("input", function () {
    var now = Date.now();
    if (now - lastTyping < TYPING_EVERY || !socket || socket.readyState !== 1) return;
    lastTyping = now;
    socket.send(JSON.stringify({ typing: true }));
  });
  $("form.me").addEventListener("submit", function (evt) {
    evt.preventDefault();
    var f = evt.target, body = { email: f.email.value.trim(), phone: f.phone.value.trim() };
    ensureSession().then(function () { return request("POST", "/contact", body); }).then(function (data) {
      showError(""); f.hidden = true; follow(data && data.language);
    }).catch(function (e) { showError(e.message); });
  });

  function mount() { document.body.appendChild(host); connect(); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
