# ruff: noqa: E501 (the page's HTML and script are kept as written)
"""The simulator's phone page for `make run`: a customer phone (call, IVR digits, hang up, SMS) and operator phones
that ring and can be answered. Plain HTML polling a small JSON state every second; loopback dev tool, no auth."""

from __future__ import annotations

import html
from typing import Any

from litestar import Request, Response, get, post

from telephony.simulator.core import FINAL, Simulator

SHOP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo Shop · fresh coffee beans</title>
<style>body{font:16px system-ui,sans-serif;margin:2rem auto;max-width:40rem;color:#222}</style></head><body>
<h1>Demo Shop</h1>
<p>Fresh coffee beans, roasted every morning. This page stands for the shop's own website, on another address than
Switchboard: the chat bubble in the corner is the shop's web chat snippet. Write to the shop, then answer from the
console (<code>/t/demo/console/</code>, signed in as the operator).</p>
<script src="__WIDGET__" async></script>
</body></html>"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Twilio simulator · phones</title>
<style>
 body{font:15px system-ui,sans-serif;margin:2rem;background:#f6f7f9;color:#222}
 .grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:1rem}
 .phone{background:#fff;border-radius:12px;padding:1rem;box-shadow:0 1px 4px #0002}
 button{margin:.15rem;padding:.35rem .7rem} .keys button{width:3rem} .muted{color:#777;font-size:13px}
 .ringing{color:#b00;font-weight:bold} ul{padding-left:1.1rem} input{padding:.3rem}
</style></head><body>
<h1>Twilio simulator</h1>
<p class="muted">Calls and texts go to the shop's webhooks signed like Twilio's; the app's REST requests come here.
 The shop's website with its web chat: <a href="/shop">/shop</a>.</p>
<div class="grid">
 <section class="phone" id="customer"><h2>Customer phone</h2>
  <label>My number <input id="from" value="+14155550199"></label>
  <label>Shop <select id="to"></select></label>
  <div><button id="dial">Call the shop</button><button id="hangup">Hang up</button></div>
  <div class="keys">__KEYS__</div>
  <p id="status" class="muted">idle</p><ul id="heard"></ul>
  <h3>Text the shop</h3><input id="body" placeholder="message" size="28"><button id="send">Send SMS</button>
  <ul id="sms"></ul>
 </section>
 <section class="phone"><h2>Operator phones</h2><div id="operators"></div></section>
</div>
<script>
let mine = null;
const $ = (id) => document.getElementById(id);
async function api(path, body) {
  const r = await fetch(path, {method: "POST", headers: {"content-type": "application/json"},
                               body: JSON.stringify(body || {})});
  const data = await r.json(); if (!r.ok) alert(data.message || r.status); return data;
}
$("dial").onclick = async () => { mine = (await api("/sim/call", {from: $("from").value, to: $("to").value})).sid; };
$("hangup").onclick = () => mine && api("/sim/hangup", {sid: mine});
$("send").onclick = async () => { await api("/sim/sms", {from: $("from").value, to: $("to").value, body: $("body").value});
                                  $("body").value = ""; };
document.querySelectorAll(".keys button").forEach((b) => b.onclick = () => mine && api("/sim/press", {sid: mine, digits: b.textContent}));
function esc(s) { const d = document.createElement("div"); d.textContent = s; return d.innerHTML; }
async function refresh() {
  const s = await (await fetch("/sim/state")).json();
  if (!$("to").options.length) s.numbers.forEach((n) => $("to").add(new Option(n, n)));
  const call = s.calls.find((c) => c.sid === mine);
  $("status").textContent = call ? `${call.status}${call.queue ? " · waiting in queue " + call.queue : ""}${call.conference ? " · in conference" : ""}${call.on_hold ? " · on hold" : ""}${call.dtmf ? " · tones heard " + call.dtmf : ""}` : "idle";
  $("heard").innerHTML = call ? call.heard.slice(-6).map((h) => `<li>${esc(h)}</li>`).join("") : "";
  $("sms").innerHTML = s.messages.filter((m) => m.to === $("from").value || m.from === $("from").value)
    .slice(-8).map((m) => `<li>${m.direction === "inbound" ? "me" : "shop"}: ${esc(m.body)} <span class="muted">${m.status}</span></li>`).join("");
  $("operators").innerHTML = s.devices.map((d) => {
    const legs = s.calls.filter((c) => c.to === d && c.direction !== "inbound" && !c.final);
    const rows = legs.map((c) => c.status === "ringing"
      ? `<div class="ringing">Ringing: ${esc(c.from)} <button onclick="api('/sim/answer',{sid:'${c.sid}'})">Answer</button></div>`
      : `<div>In call with ${esc(c.from)} (${c.status}${c.conference ? " · conference, " + c.others + " other(s)" : ""}${c.muted ? " · muted" : ""}${c.coaching ? " · whispering" : ""}) <button onclick="api('/sim/hangup',{sid:'${c.sid}'})">Hang up</button></div>`).join("");
    return `<div><b>${esc(d)}</b>${rows || ' <span class="muted">idle</span>'}</div>`;
  }).join("") || '<p class="muted">No operator devices configured.</p>';
}
setInterval(refresh, 1000); refresh();
</script></body></html>"""


def _page() -> str:
    keys = "".join(f"<button>{k}</button>" for k in "123456789*0#")
    return PAGE.replace("__KEYS__", keys)


def _call_json(sim: Simulator, sid: str) -> dict[str, Any]:
    c = sim.calls[sid]
    seat = sim.conferences.of_call(sid)
    room = {"conference": seat[0].friendly_name, "others": len(seat[0].connected()) - 1, "muted": seat[1].muted,
            "coaching": seat[1].coaching} if seat and seat[1].status == "connected" else {}
    return {"sid": c.sid, "from": c.from_, "to": c.to, "status": c.status, "direction": c.direction,
            "queue": c.queue, "heard": c.heard[-10:], "final": c.status in FINAL, "on_hold": c.looping or c.held,
            "dtmf": c.dtmf_heard[-12:], **room}


def handlers(sim: Simulator) -> list[Any]:
    """Route handlers of the phone page, bound to `sim`."""

    def fail(message: str, status: int = 400) -> Response[Any]:
        return Response({"message": message}, status_code=status)

    @get("/", include_in_schema=False, media_type="text/html")
    async def page() -> str:
        return _page()

    @get("/shop", include_in_schema=False, media_type="text/html")
    async def shop() -> Response[Any]:
        """The shop's own website as its customers see it, on another origin, with its web chat snippet."""
        if not sim.shop_widget:
            return Response("No shop web chat configured (start with switchboard run).", status_code=404,
                            media_type="text/plain")
        return Response(SHOP_PAGE.replace("__WIDGET__", html.escape(sim.shop_widget, quote=True)),
                        media_type="text/html")

    @get("/sim/state", include_in_schema=False)
    async def state() -> dict[str, Any]:
        recent = list(sim.calls)[-30:]
        return {"numbers": list(sim.numbers), "devices": sim.devices,
                "calls": [_call_json(sim, s) for s in recent],
                "messages": [{"from": m.from_, "to": m.to, "body": m.body, "status": m.status,
                              "direction": m.direction} for m in list(sim.messages.values())[-30:]]}

    @post("/sim/call", include_in_schema=False, status_code=200)
    async def call(request: Request[Any, Any, Any]) -> Response[Any]:
        data = await request.json()
        if data.get("to") not in sim.numbers:
            return fail("Unknown shop number.")
        return Response(_call_json(sim, sim.place_call(str(data.get("from") or "+14155550199"), data["to"]).sid))

    @post("/sim/press", include_in_schema=False, status_code=200)
    async def press(request: Request[Any, Any, Any]) -> Response[Any]:
        data = await request.json()
        c = sim.calls.get(str(data.get("sid")))
        if c is None or c.status in FINAL:
            return fail("No such live call.")
        for d in str(data.get("digits", ""))[:10]:
            c.digits.put_nowait(d)
        return Response(_call_json(sim, c.sid))

    @post("/sim/hangup", include_in_schema=False, status_code=200)
    async def hangup(request: Request[Any, Any, Any]) -> Response[Any]:
        c = sim.calls.get(str((await request.json()).get("sid")))
        if c is None:
            return fail("No such call.", 404)
        c.ended.set()
        return Response(_call_json(sim, c.sid))

    @post("/sim/answer", include_in_schema=False, status_code=200)
    async def answer(request: Request[Any, Any, Any]) -> Response[Any]:
        c = sim.calls.get(str((await request.json()).get("sid")))
        if c is None or c.status != "ringing":
            return fail("That phone is not ringing.")
        c.answered.set()
        return Response(_call_json(sim, c.sid))

    @post("/sim/sms", include_in_schema=False, status_code=200)
    async def sms(request: Request[Any, Any, Any]) -> Response[Any]:
        data = await request.json()
        if data.get("to") not in sim.numbers or not str(data.get("body") or "").strip():
            return fail("Choose the shop's number and write a message.")
        msg = sim.send_sms(str(data.get("from") or "+14155550199"), data["to"], str(data["body"])[:1600])
        return Response({"sid": msg.sid})

    return [page, shop, state, call, press, hangup, answer, sms]
