"""The wallboard in Chromium: an admin makes a wallboard link; a screen with no account opens it, sees the board
follow a call entering and leaving the queue live (no reload), goes full screen, and can open nothing else."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, LiveShop, NewContext, live_signup, sign_in


async def _api(base: str, shop: LiveShop, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=30) as client:
        resp = await client.request(method, f"/t/{shop.slug}/api/v1{path}", json=body, headers=shop.auth)
    assert resp.status_code < 300, resp.text
    return resp.json() if resp.content else None


async def test_a_wallboard_link_shows_the_board_live_and_nothing_else(
    fx_new_context: NewContext, fx_live_server: LiveServer
) -> None:
    shop = await live_signup(fx_live_server, "wallboard")
    admin = await (await fx_new_context()).new_page()
    await sign_in(admin, shop.slug, shop.email, shop.password)
    await admin.goto(f"/t/{shop.slug}/settings/wallboard/")
    await admin.get_by_test_id("wallboard-token-name").fill("Floor TV")
    await admin.get_by_test_id("wallboard-token-create").click()
    shown = await admin.get_by_test_id("wallboard-link").locator("code").inner_text()
    link = shown[shown.index(f"/t/{shop.slug}/wallboard?token="):]
    await expect(admin.get_by_test_id("wallboard-tokens")).to_contain_text("Floor TV")

    tv = await (await fx_new_context()).new_page()  # a screen with no account
    await tv.goto(link)
    await tv.wait_for_url(re.compile(rf"/t/{shop.slug}/wallboard\?tv=1$"))  # the secret left the address bar
    await expect(tv.get_by_test_id("wallboard")).to_have_class(re.compile(r"\btv\b"))
    await expect(tv.get_by_test_id("waiting-general")).to_have_text("0")
    await expect(tv.get_by_test_id("who")).to_have_count(0)  # no navigation, no user
    # The hub has attached the screen's socket (its ready marker) before the call comes in.
    await expect(tv.locator('#sb-last-event[data-ready="true"]')).to_be_attached()

    contact = await _api(fx_live_server.url, shop, "POST", "/contacts", {"name": "Carla Caller"})
    call = await _api(fx_live_server.url, shop, "POST", "/conversations",
                      {"channel": "call", "contact_id": contact["id"], "subject": "Where is my parcel?"})
    await expect(tv.get_by_test_id("waiting-general")).to_have_text("1")
    await expect(tv.get_by_test_id("longest-general")).to_have_text(re.compile(r"^\d+:\d\d$"))
    await expect(tv.get_by_test_id("wallboard-board")).not_to_contain_text("Carla Caller")
    await _api(fx_live_server.url, shop, "POST", f"/conversations/{call['id']}/take")
    await expect(tv.get_by_test_id("waiting-general")).to_have_text("0")
    await expect(tv.get_by_test_id("longest-general")).to_have_text("—")

    await tv.get_by_test_id("wallboard-fullscreen").click()
    await expect(tv.get_by_test_id("wallboard")).to_have_class(re.compile(r"\bfullscreen\b"))

    for path in ("/console/", "/contacts/", "/settings/wallboard/"):
        await tv.goto(f"/t/{shop.slug}{path}")
        await tv.wait_for_url(re.compile(rf"/t/{shop.slug}/login"))
    for path in ("/me", "/wallboard/", "/conversations/waiting"):
        resp = await tv.request.get(f"/t/{shop.slug}/api/v1{path}")
        assert resp.status == 401, (path, resp.status)
