"""An offer in the operator's console (issue 16): a new chat in a round-robin queue is offered to the one available
agent; their console shows it at the top with a live countdown and Accept/Reject; accepting makes it theirs and the
offer disappears."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, NewContext, live_signup, sign_in


async def _api(base: str, shop: Any, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=30) as client:
        resp = await client.request(method, f"/t/{shop.slug}/api/v1{path}", json=body, headers=shop.auth)
    assert resp.status_code < 300, resp.text
    return resp.json() if resp.content else None


async def test_an_operator_sees_an_offer_with_a_countdown_and_accepts_it(
        fx_new_context: NewContext, fx_live_server: LiveServer) -> None:
    shop = await live_signup(fx_live_server, "routing")
    page = await (await fx_new_context()).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)
    await _api(fx_live_server.url, shop, "PUT", "/routing/queues/general",
               {"strategy": "round_robin", "offer_timeout": 120})
    await page.goto(f"/t/{shop.slug}/console/")
    await expect(page.get_by_test_id("queue-empty")).to_be_visible()
    # The owner is the one agent on duty: their console is open, and they choose available.
    # The choice is kept; it takes effect once the console's socket has registered the agent online, which may land
    # a moment after the page shows (the socket connects after the first paint): wait for it, do not race it.
    await _api(fx_live_server.url, shop, "PUT", "/me/status", {"state": "available"})
    status: dict[str, Any] = {}
    for _ in range(100):
        status = await _api(fx_live_server.url, shop, "GET", "/me/status")
        if status["state"] == "available":
            break
        await asyncio.sleep(0.1)
    assert status["state"] == "available", status
    owner = (await _api(fx_live_server.url, shop, "GET", "/me/status"))["user_id"]

    item = await _api(fx_live_server.url, shop, "POST", "/conversations",
                      {"channel": "chat", "subject": "Where is my parcel?", "from_address": "Mila"})
    offer = page.get_by_test_id("offer")
    await expect(offer).to_be_visible()
    await expect(offer).to_contain_text("Where is my parcel?")
    countdown = page.get_by_test_id("offer-countdown")
    await expect(countdown).to_have_text(re.compile(r"^\d{2,3} s left$"))
    first = await countdown.text_content()
    await expect(countdown).not_to_have_text(first or "")  # it ticks

    await page.get_by_test_id("offer-accept").click()
    await expect(page.get_by_test_id("notice")).to_contain_text("You accepted the chat")
    await expect(page.get_by_test_id("offer")).to_have_count(0)
    await expect(page.locator(f'[data-testid=mine-item][data-conversation-id="{item["id"]}"]')).to_be_visible()
    conv = await _api(fx_live_server.url, shop, "GET", f"/conversations/{item['id']}")
    assert conv["status"] == "active" and conv["assigned_to_id"] == owner
