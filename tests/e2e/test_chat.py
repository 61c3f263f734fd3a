"""Web chat end to end in headless Chromium: a visitor page on another origin (a second loopback server serving
only the shop's snippet) and an operator console; messages both ways live, typing and delivery state; a widget
token of one shop opens nothing at another shop."""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, LiveShop, NewContext, free_port, live_signup, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

FETCH_STATUS = """async ([url, token]) => (await fetch(url, {headers: {"X-Chat-Token": token},
    credentials: "omit"})).status"""
WS_CLOSE_CODE = """([url, token]) => new Promise((resolve) => { const ws = new WebSocket(url, ["sb-chat", token]);
    ws.onmessage = () => resolve("message"); ws.onclose = (e) => resolve(e.code); })"""


@contextlib.contextmanager
def shop_site(tmp_path: Path, html: str) -> Iterator[str]:
    """The shop's own website on `localhost` (the app runs on 127.0.0.1: another origin), with the snippet."""
    (tmp_path / "index.html").write_text(html)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


async def chat_settings(server: LiveServer, shop: LiveShop, origin: str) -> str:
    async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=30) as client:
        resp = await client.put(f"/t/{shop.slug}/api/v1/chat/settings", json={"allowed_origins": [origin],
                                                                             "greeting": "Welcome to Bean Shop!"},
                                headers=shop.auth)
        assert resp.status_code == 200, resp.text
        return resp.json()["snippet"]


async def test_visitor_and_operator_chat_live_across_origins(fx_new_context: NewContext, fx_live_server: LiveServer,
                                                             tmp_path: Path) -> None:
    shop = await live_signup(fx_live_server, "webchat")
    other = await live_signup(fx_live_server, "webchat_b")
    with shop_site(tmp_path, "<!doctype html><title>Bean Shop</title>") as site:
        snippet = await chat_settings(fx_live_server, shop, site)
        await chat_settings(fx_live_server, other, site)
        assert fx_live_server.url in snippet
        (tmp_path / "index.html").write_text(f"<!doctype html><title>Bean Shop</title><h1>Beans</h1>{snippet}")

        operator = await (await fx_new_context()).new_page()
        await sign_in(operator, shop.slug, shop.email, shop.password)
        await operator.goto(f"/t/{shop.slug}/settings/chat/")
        await expect(operator.get_by_test_id("chat-snippet")).to_contain_text("widget.js")
        await operator.goto(f"/t/{shop.slug}/console/")
        await expect(operator.get_by_test_id("queue-empty")).to_be_visible()

        visitor = await (await fx_new_context()).new_page()
        await visitor.goto(site + "/")
        assert await visitor.evaluate("document.cookie") == ""
        await visitor.get_by_test_id("sb-chat-bubble").click()
        await expect(visitor.get_by_test_id("sb-chat-greeting")).to_have_text("Welcome to Bean Shop!")
        await visitor.get_by_test_id("sb-chat-input").fill("Hello from the shop site")
        await visitor.get_by_test_id("sb-chat-send").click()
        mine = visitor.get_by_test_id("sb-chat-message").filter(has_text="Hello from the shop site")
        await expect(mine).to_have_attribute("data-direction", "in")
        token = await visitor.evaluate(f"localStorage.getItem('sb-chat:{shop.slug}')")
        assert token and len(token) >= 43
        assert await visitor.evaluate("document.cookie") == ""

        item = operator.get_by_test_id("queue-item").filter(has_text="Hello from the shop site")
        await expect(item).to_be_visible()
        await item.get_by_test_id("take").click()
        pane = operator.get_by_test_id("chat-pane")
        await expect(pane.get_by_test_id("chat-message").filter(has_text="Hello from the shop site")).to_be_visible()
        await expect(mine).to_have_attribute("data-status", re.compile("delivered|read"))  # the console showed it

        await visitor.get_by_test_id("sb-chat-input").press_sequentially("Is the", delay=20)
        await expect(pane.get_by_test_id("chat-typing")).to_be_visible()
        # Any panel re-render (here: the operator's own status change re-renders every panel) keeps "typing" up.
        await operator.get_by_test_id("my-status").select_option("away:break")
        await expect(operator.get_by_test_id("team-presence")).to_contain_text("away")
        await expect(pane.get_by_test_id("chat-typing")).to_be_visible()
        await operator.get_by_test_id("my-status").select_option("available")
        await visitor.get_by_test_id("sb-chat-input").fill("Are the beans fresh?")
        await visitor.get_by_test_id("sb-chat-send").click()
        await expect(pane.get_by_test_id("chat-message").filter(has_text="Are the beans fresh?")).to_be_visible()

        await pane.get_by_test_id("chat-reply").press_sequentially("Roasted", delay=20)
        await expect(visitor.get_by_test_id("sb-chat-typing")).to_be_visible()
        await pane.get_by_test_id("chat-reply").fill("Roasted this morning!")
        await pane.get_by_test_id("chat-send").click()
        answer = visitor.get_by_test_id("sb-chat-message").filter(has_text="Roasted this morning!")
        await expect(answer).to_have_attribute("data-direction", "out")
        await expect(mine).to_have_attribute("data-status", "read")  # answered: the operator has read it
        # The visitor has the panel open: the operator sees the reply as read.
        await expect(pane.get_by_test_id("chat-status")).to_have_attribute("data-status", "read")
        await expect(pane.get_by_test_id("chat-reply")).to_have_value("")

        # Tenant B allows the same site, but A's widget token opens nothing there: API 404, socket closed.
        ws_base = fx_live_server.url.replace("http", "ws")
        url = fx_live_server.url
        assert await visitor.evaluate(FETCH_STATUS, [f"{url}/t/{other.slug}/chat/messages", token]) == 404
        assert await visitor.evaluate(WS_CLOSE_CODE, [f"{ws_base}/t/{other.slug}/chat/ws", token]) == 4404
        assert await visitor.evaluate(FETCH_STATUS, [f"{url}/t/{shop.slug}/chat/messages", token]) == 200

        # The same page from an origin the shop did not list: the browser gets no CORS grant and blocks the call.
        stranger = await (await fx_new_context()).new_page()
        await stranger.goto(site.replace("localhost", "127.0.0.1") + "/")
        blocked = await stranger.evaluate("""async (url) => { try { await fetch(url, {method: "POST",
            headers: {"Content-Type": "application/json"}, body: "{}"}); return "allowed"; }
            catch (e) { return "blocked"; } }""", f"{fx_live_server.url}/t/{shop.slug}/chat/sessions")
        assert blocked == "blocked"
