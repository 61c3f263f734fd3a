"""Conversation actions from the console in Chromium: the operator snoozes one of their conversations and closes
another with the buttons on its row; each leaves "My conversations" at once, without a page change, and the API
reads the new state. The snooze choices stay open while a live update re-renders the panel around them."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, LiveShop, NewContext, live_signup, sign_in


async def _api(base: str, shop: LiveShop, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=30) as client:
        resp = await client.request(method, f"/t/{shop.slug}/api/v1{path}", json=body, headers=shop.auth)
    assert resp.status_code < 300, resp.text
    return resp.json() if resp.content else None


async def test_operator_snoozes_and_closes_from_the_console(fx_new_context: NewContext,
                                                            fx_live_server: LiveServer) -> None:
    shop = await live_signup(fx_live_server, "actions")
    page = await (await fx_new_context()).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)
    items = []
    for name, subject in (("Sofia Snooze", "Call me after lunch"), ("Carl Close", "Thanks, all sorted")):
        contact = await _api(fx_live_server.url, shop, "POST", "/contacts", {"name": name})
        conv = await _api(fx_live_server.url, shop, "POST", "/conversations",
                          {"channel": "sms", "contact_id": contact["id"], "subject": subject,
                           "from_address": "+14155550142"})
        await _api(fx_live_server.url, shop, "POST", f"/conversations/{conv['id']}/take")
        items.append(conv)
    await page.goto(f"/t/{shop.slug}/console/")
    mine = page.get_by_test_id("mine-item")
    await expect(mine).to_have_count(2)
    path = page.url

    snoozing = mine.filter(has_text="Sofia Snooze")
    await snoozing.get_by_text("Snooze", exact=True).first.click()  # opens the snooze choices
    choices = snoozing.locator(f"details#actions-{items[0]['id']}-snooze")
    await expect(choices).to_have_attribute("open", "")
    # A live update re-renders the panel meanwhile (a new customer waits): the open choices stay open.
    await _api(fx_live_server.url, shop, "POST", "/conversations", {"channel": "chat", "subject": "Meanwhile"})
    await expect(page.get_by_test_id("queue-item")).to_have_count(1)
    await expect(choices).to_have_attribute("open", "")
    await snoozing.get_by_test_id("action-snooze-1h").click()
    await expect(mine.filter(has_text="Sofia Snooze")).to_have_count(0)
    snoozed = await _api(fx_live_server.url, shop, "GET", f"/conversations/{items[0]['id']}")
    assert snoozed["status"] == "snoozed" and snoozed["snoozed_until"]

    await mine.filter(has_text="Carl Close").get_by_test_id("action-close").click()
    await expect(mine).to_have_count(0)
    closed = await _api(fx_live_server.url, shop, "GET", f"/conversations/{items[1]['id']}")
    assert closed["status"] == "closed"
    assert page.url == path  # no page change
    listed = await _api(fx_live_server.url, shop, "GET", "/conversations/snoozed")
    assert [c["id"] for c in listed] == [items[0]["id"]]
