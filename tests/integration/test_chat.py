"""Web chat over HTTP and websockets: the tenant's origin rules and CORS, a visitor's message in the queue, the
operator's reply live in the widget and the visitor's live in the console, delivery state and typing, contact
linking with the transcript on the timeline, rate limits, and isolation between tenants."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.accounts.services import create_session
from app.chat.widget import limits
from app.lib.db import tenant_context
from tests.conftest import ShopFixture, browser_login, csrf_from, make_shop
from tests.integration.test_orders import api
from tests.servers import ConsoleSocket, InProcessServer, realtime_runtime

pytestmark = pytest.mark.xdist_group("realtime")

SITE = "https://shop-site.example"
ORIGIN = "http://testserver.local"  # the app's own origin (BASE_URL of the test settings), for the console


async def allow(client: Any, shop: ShopFixture, *origins: str) -> dict[str, Any]:
    resp = await client.put(api(shop, "/chat/settings"), json={"allowed_origins": list(origins)}, headers=shop.auth)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def start(client: Any, shop: ShopFixture, origin: str = SITE, **body: Any) -> dict[str, Any]:
    resp = await client.post(f"/t/{shop.slug}/chat/sessions", json=body, headers={"Origin": origin})
    assert resp.status_code == 201, resp.text
    return resp.json()


async def say(client: Any, shop: ShopFixture, token: str, body: str, origin: str = SITE) -> Any:
    return await client.post(f"/t/{shop.slug}/chat/messages", json={"body": body},
                             headers={"Origin": origin, "X-Chat-Token": token})


async def waiting_chat(client: Any, shop: ShopFixture) -> dict[str, Any]:
    rows = (await client.get(api(shop, "/conversations/waiting"), headers=shop.auth)).json()
    return next(r for r in rows if r["channel"] == "chat")


async def test_settings_origins_and_cors(fx_client: Any, fx_shop: ShopFixture) -> None:
    bad = await fx_client.put(api(fx_shop, "/chat/settings"), json={"allowed_origins": ["shop.example/path"]},
                              headers=fx_shop.auth)
    assert bad.status_code == 400 and "not an origin" in bad.json()["detail"]
    cfg = await allow(fx_client, fx_shop, "HTTPS://Shop-Site.example:443/", "http://localhost:8080")
    assert cfg["allowed_origins"] == [SITE, "http://localhost:8080"]
    assert f"/t/{fx_shop.slug}/widget.js" in cfg["snippet"] and cfg["snippet"].startswith("<script")

    pre = await fx_client.options(f"/t/{fx_shop.slug}/chat/messages", headers={
        "Origin": SITE, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-chat-token"})
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == SITE
    assert "x-chat-token" in pre.headers["access-control-allow-headers"]
    evil = await fx_client.options(f"/t/{fx_shop.slug}/chat/messages", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers
    refused = await fx_client.post(f"/t/{fx_shop.slug}/chat/sessions", json={}, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and "not allowed" in refused.json()["detail"]

    cfg_resp = await fx_client.get(f"/t/{fx_shop.slug}/chat/config", headers={"Origin": SITE})
    assert cfg_resp.status_code == 200 and cfg_resp.json() == {"greeting": "Hi! How can we help?"}
    ok = await fx_client.post(f"/t/{fx_shop.slug}/chat/sessions", json={}, headers={"Origin": SITE})
    assert ok.status_code == 201 and ok.headers["access-control-allow-origin"] == SITE
    assert "set-cookie" not in ok.headers  # the widget never relies on cookies
    js = await fx_client.get(f"/t/{fx_shop.slug}/widget.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"] and "X-Chat-Token" in js.text
    assert (await fx_client.get("/t/no_such_shop/widget.js")).status_code == 404

    page = await fx_client.get(f"/t/{fx_shop.slug}/settings/chat/", headers=fx_shop.auth)
    assert page.status_code == 200 and "widget.js" in page.text and SITE in page.text


async def test_visitor_message_queue_reply_and_delivery_state(fx_client: Any, fx_shop: ShopFixture) -> None:
    await allow(fx_client, fx_shop, SITE)
    s = await start(fx_client, fx_shop)
    assert len(s["token"]) >= 43
    sent = await say(fx_client, fx_shop, s["token"], "  Do you ship to Norway?  ")
    assert sent.status_code == 201, sent.text
    assert sent.json()["body"] == "Do you ship to Norway?" and sent.json()["status"] == "sent"

    conv = await waiting_chat(fx_client, fx_shop)
    assert "Do you ship to Norway?" in conv["subject"]
    early = await fx_client.post(api(fx_shop, f"/conversations/{conv['id']}/chat"), json={"body": "hi"},
                                 headers=fx_shop.auth)
    assert early.status_code == 409 and "Take this chat" in early.json()["detail"]
    assert (await say(fx_client, fx_shop, s["token"], "Hello?")).status_code == 201
    assert len([r for r in (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=fx_shop.auth)).json()
                if r["channel"] == "chat"]) == 1  # one conversation per chat

    took = await fx_client.post(api(fx_shop, f"/conversations/{conv['id']}/take"), headers=fx_shop.auth)
    assert took.status_code == 200
    reply = await fx_client.post(api(fx_shop, f"/conversations/{conv['id']}/chat"),
                                 json={"body": "Yes, in 3 days."}, headers=fx_shop.auth)
    assert reply.status_code == 201 and reply.json()["direction"] == "out"

    seen = await fx_client.get(f"/t/{fx_shop.slug}/chat/messages", headers={"Origin": SITE, "X-Chat-Token": s["token"]})
    assert seen.status_code == 200
    msgs = seen.json()["messages"]
    assert [(m["direction"], m["body"]) for m in msgs] == [
        ("in", "Do you ship to Norway?"), ("in", "Hello?"), ("out", "Yes, in 3 days.")]
    assert msgs[2]["status"] == "delivered" and msgs[0]["status"] == "read"  # answered = read by the operator
    read = await fx_client.post(f"/t/{fx_shop.slug}/chat/read", json={"upto": msgs[2]["id"]},
                                headers={"Origin": SITE, "X-Chat-Token": s["token"]})
    assert read.status_code == 204
    chat = (await fx_client.get(api(fx_shop, f"/conversations/{conv['id']}/chat"), headers=fx_shop.auth)).json()
    assert chat["messages"][-1]["status"] == "read" and chat["session_id"] == s["session_id"]

    for body, status in (("", 400), ("x" * 2001, 400)):
        bad = await say(fx_client, fx_shop, s["token"], body)
        assert bad.status_code == status and bad.json()["detail"]
    junk = await fx_client.post(f"/t/{fx_shop.slug}/chat/messages", content=b"{nope",
                                headers={"Origin": SITE, "X-Chat-Token": s["token"],
                                         "content-type": "application/json"})
    assert junk.status_code == 400
    assert (await say(fx_client, fx_shop, "x" * 43, "hi")).status_code == 404
    assert (await fx_client.get(f"/t/{fx_shop.slug}/chat/messages", headers={"Origin": SITE})).status_code == 404

    wrap = await fx_client.post(api(fx_shop, f"/conversations/{conv['id']}/wrapup"), json={"code": "info", "note": ""},
                                headers=fx_shop.auth)
    assert wrap.status_code == 200
    assert (await say(fx_client, fx_shop, s["token"], "One more thing")).status_code == 201
    again = await waiting_chat(fx_client, fx_shop)
    assert again["id"] != conv["id"] and "One more thing" in again["subject"]


async def test_visitor_email_links_contact_and_timeline(fx_client: Any, fx_shop: ShopFixture) -> None:
    await allow(fx_client, fx_shop, SITE)
    s = await start(fx_client, fx_shop)
    assert (await say(fx_client, fx_shop, s["token"], "Where is my order?")).status_code == 201
    bad = await fx_client.post(f"/t/{fx_shop.slug}/chat/contact", json={"email": "not-an-email"},
                               headers={"Origin": SITE, "X-Chat-Token": s["token"]})
    assert bad.status_code == 400
    linked = await fx_client.post(f"/t/{fx_shop.slug}/chat/contact", json={"name": "Vera Visitor",
                                                                          "email": "Vera@Example.com"},
                                  headers={"Origin": SITE, "X-Chat-Token": s["token"]})
    assert linked.status_code == 200, linked.text
    conv = await waiting_chat(fx_client, fx_shop)
    assert conv["contact_id"] and conv["contact_name"] == "Vera Visitor"
    contact_id = conv["contact_id"]
    await fx_client.post(api(fx_shop, f"/conversations/{conv['id']}/take"), headers=fx_shop.auth)
    assert (await say(fx_client, fx_shop, s["token"], "Order 42")).status_code == 201
    await fx_client.post(api(fx_shop, f"/conversations/{conv['id']}/chat"), json={"body": "On its way."},
                         headers=fx_shop.auth)
    tl = (await fx_client.get(api(fx_shop, f"/contacts/{contact_id}/timeline?channel=chat"),
                              headers=fx_shop.auth)).json()["items"]
    summaries = [i["summary"] for i in tl]
    assert any("transcript (1 messages)" in x for x in summaries)
    assert "Order 42" in summaries and "On its way." in summaries

    # A second chat from the same address lands on the same contact; a phone creates no duplicate either.
    s2 = await start(fx_client, fx_shop, email="vera@example.com")
    assert (await say(fx_client, fx_shop, s2["token"], "Me again")).status_code == 201
    rows = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=fx_shop.auth)).json()
    assert [r["contact_id"] for r in rows if r["channel"] == "chat"] == [contact_id]


async def test_console_pane_reply_and_openapi(fx_client: Any, fx_shop: ShopFixture) -> None:
    await allow(fx_client, fx_shop, SITE)
    s = await start(fx_client, fx_shop, name="Olga", phone="+1 415 555 0100")
    assert (await say(fx_client, fx_shop, s["token"], "Need <b>help</b>")).status_code == 201
    typing = await fx_client.post(f"/t/{fx_shop.slug}/chat/typing",
                                  headers={"Origin": SITE, "X-Chat-Token": s["token"]})
    assert typing.status_code == 204
    conv = await waiting_chat(fx_client, fx_shop)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    csrf = await csrf_from(fx_client, f"/t/{fx_shop.slug}/console/")
    took = await fx_client.post(f"/t/{fx_shop.slug}/console/take/{conv['id']}", headers={"X-CSRF-Token": csrf})
    assert "You took the chat" in took.text
    page = (await fx_client.get(f"/t/{fx_shop.slug}/console/", headers={"accept": "text/html"})).text
    assert 'data-testid="chat-pane"' in page and "data-canned" in page and "+14155550100" in page
    assert "Need &lt;b&gt;help&lt;/b&gt;" in page and "<b>help</b>" not in page  # escaped
    assert f'/console/chat/{conv["id"]}/seen' in page  # the console marks what it showed as delivered
    seen = await fx_client.post(f"/t/{fx_shop.slug}/console/chat/{conv['id']}/seen", data={"upto": "999999"},
                                headers={"X-CSRF-Token": csrf})
    assert seen.status_code == 204
    sent = await fx_client.post(f"/t/{fx_shop.slug}/console/chat/{conv['id']}/", data={"body": "On it!"},
                                headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert sent.status_code == 200 and "On it!" in sent.text and f'id="chat-log-{conv["id"]}"' in sent.text
    empty = await fx_client.post(f"/t/{fx_shop.slug}/console/chat/{conv['id']}/", data={"body": " "},
                                 headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert empty.status_code == 400 and "The message is empty." in empty.text
    msgs = (await fx_client.get(f"/t/{fx_shop.slug}/chat/messages",
                                headers={"Origin": SITE, "X-Chat-Token": s["token"]})).json()["messages"]
    assert [(m["direction"], m["status"]) for m in msgs] == [("in", "read"), ("out", "delivered")]

    schema = (await fx_client.get("/schema/openapi.json")).json()["paths"]
    for path in ("/t/{slug}/chat/sessions", "/t/{slug}/chat/messages", "/t/{slug}/api/v1/chat/settings",
                 "/t/{slug}/api/v1/conversations/{conversation_id}/chat"):
        assert path in schema, path


async def test_rate_limits(fx_client: Any, fx_shop: ShopFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    await allow(fx_client, fx_shop, SITE)
    s = await start(fx_client, fx_shop)
    codes = [(await say(fx_client, fx_shop, s["token"], f"msg {i}")).status_code for i in range(22)]
    assert codes[:20] == [201] * 20 and codes[20:] == [429, 429]
    limits()["sessions"]._hits.clear()
    codes = [(await fx_client.post(f"/t/{fx_shop.slug}/chat/sessions", json={}, headers={"Origin": SITE})).status_code
             for _ in range(21)]
    assert codes[-1] == 429 and codes.count(201) == 20
    monkeypatch.setattr(limits()["requests"], "limit", 0)
    capped = await fx_client.get(f"/t/{fx_shop.slug}/chat/messages",
                                 headers={"Origin": SITE, "X-Chat-Token": s["token"]})
    assert capped.status_code == 429 and "Too many chat requests" in capped.json()["detail"]


async def test_tenant_isolation_http(fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    await allow(fx_client, fx_shop, SITE)
    await allow(fx_client, fx_other_shop, SITE)
    s = await start(fx_client, fx_shop)
    assert (await say(fx_client, fx_shop, s["token"], "secret of shop A")).status_code == 201
    h = {"Origin": SITE, "X-Chat-Token": s["token"]}
    assert (await fx_client.get(f"/t/{fx_other_shop.slug}/chat/messages", headers=h)).status_code == 404
    assert (await say(fx_client, fx_other_shop, s["token"], "hi")).status_code == 404
    assert (await fx_client.post(f"/t/{fx_other_shop.slug}/chat/read", json={"upto": 1}, headers=h)).status_code == 404
    conv = await waiting_chat(fx_client, fx_shop)
    assert (await fx_client.get(api(fx_other_shop, f"/conversations/{conv['id']}/chat"),
                                headers=fx_other_shop.auth)).status_code == 404
    assert not [r for r in (await fx_client.get(api(fx_other_shop, "/conversations/waiting"),
                                                headers=fx_other_shop.auth)).json() if r["channel"] == "chat"]


# -- live, through a real server ---------------------------------------------------------------------------------

@pytest.fixture(params=["memory", "redis"])
async def fx_server(request: pytest.FixtureRequest, fx_db: str) -> AsyncIterator[InProcessServer]:
    from app.asgi import create_app

    async with realtime_runtime(request.param):
        server = await InProcessServer(create_app()).start()
        try:
            yield server
        finally:
            await server.stop()


class Widget:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def until(self, predicate: Any, wait: float = 5) -> dict[str, Any]:
        async def loop() -> dict[str, Any]:
            while True:
                msg = json.loads(await self.ws.recv())
                if predicate(msg):
                    return msg
        return await asyncio.wait_for(loop(), wait)


async def widget(server: InProcessServer, shop: ShopFixture, token: str, origin: str = SITE) -> Widget:
    ws = await connect(f"{server.ws_url}/t/{shop.slug}/chat/ws", origin=origin,  # type: ignore[arg-type]
                       subprotocols=["sb-chat", token], open_timeout=10)  # type: ignore[list-item]
    return Widget(ws)


async def console(server: InProcessServer, shop: ShopFixture) -> ConsoleSocket:
    async with tenant_context(shop.tenant):
        token, _ = await create_session(shop.user_id)
    sock = await ConsoleSocket.open(server.ws_url, shop.slug, token, ORIGIN)
    await sock.ready()
    return sock


def synced(body: str, **attrs: str) -> Any:
    return lambda m: m["type"] == "sync" and any(
        x["body"] == body and all(x[k] == v for k, v in attrs.items()) for x in m["messages"])


async def test_live_both_ways_with_typing_and_isolation(fx_server: InProcessServer) -> None:
    import httpx

    a, b = await make_shop("chat_a"), await make_shop("chat_b")
    async with httpx.AsyncClient(base_url=fx_server.url, trust_env=False, timeout=10) as client:
        await allow(client, a, SITE)
        await allow(client, b, SITE)
        s = await start(client, a)
        assert (await say(client, a, s["token"], "first")).status_code == 201
        conv = await waiting_chat(client, a)
        await client.post(api(a, f"/conversations/{conv['id']}/take"), headers=a.auth)

        op_a, op_b = await console(fx_server, a), await console(fx_server, b)
        w = await widget(fx_server, a, s["token"])
        await w.until(synced("first"))

        assert (await say(client, a, s["token"], "are you there?")).status_code == 201
        frames = await op_a.until(lambda f: f.event == "chat.message")
        assert "are you there?" in frames[-1].text and f'id="chat-msgs-{conv["id"]}"' in frames[-1].text
        assert 'hx-swap-oob="beforeend"' in frames[-1].text and "first" not in frames[-1].text  # the new one alone

        await w.ws.send(json.dumps({"typing": True}))
        frames = await op_a.until(lambda f: f.event == "chat.typing")
        assert "Visitor is typing" in frames[-1].text and "data-until" in frames[-1].text

        typing = await client.post(api(a, f"/conversations/{conv['id']}/chat/typing"), headers=a.auth)
        assert typing.status_code == 204
        await w.until(lambda m: m["type"] == "typing")
        reply = await client.post(api(a, f"/conversations/{conv['id']}/chat"), json={"body": "Yes!"}, headers=a.auth)
        assert reply.status_code == 201
        got = await w.until(synced("Yes!", status="delivered"))
        await w.ws.send(json.dumps({"read": max(m["id"] for m in got["messages"])}))
        frames = await op_a.until(lambda f: f.event == "chat.status" and f.payload.get("status") == "read")
        assert 'data-status="read"' in frames[-1].text

        # Tenant B: A's token opens nothing, and none of A's chat events reached B's console.
        with pytest.raises((ConnectionClosed, InvalidStatus)):
            other = await widget(fx_server, b, s["token"])
            await other.ws.recv()
        with pytest.raises((ConnectionClosed, InvalidStatus)):
            evil = await widget(fx_server, a, s["token"], origin="https://evil.example")
            await evil.ws.recv()
        # B's own event, published after all of A's, is the first thing B's console gets.
        sentinel = await client.post(api(b, "/conversations"), json={"channel": "chat", "subject": "B sentinel"},
                                     headers=b.auth)
        assert sentinel.status_code == 201, sentinel.text
        b_frames = await op_b.until(lambda f: f.event == "queue.item_added" and "B sentinel" in f.text)
        assert not [f for f in b_frames if (f.event or "").startswith("chat.") or "are you there" in f.text]
        # The token travels only in the handshake's subprotocol header: in the URL it opens nothing.
        with pytest.raises((ConnectionClosed, InvalidStatus)):
            in_url = await connect(f"{fx_server.ws_url}/t/{a.slug}/chat/ws?token={s['token']}",
                                   origin=SITE, open_timeout=10)  # type: ignore[arg-type]
            await in_url.recv()
        await w.ws.close()
        await op_a.close()
        await op_b.close()
