"""The security console in a real browser: requests the live server refused (an unsigned Twilio webhook, a chat call
from a site not in the shop's list) appear on Settings → Security for the shop's admin, counted per day."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, NewContext
from tests.e2e.test_portal import call, shop, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


async def test_admin_sees_refused_requests_on_the_security_page(fx_new_context: NewContext,
                                                                 fx_live_server: LiveServer) -> None:
    s = await shop(fx_live_server, "secure")
    await call(fx_live_server, s, "PUT", "/chat/settings", {"allowed_origins": ["https://shop-site.example"]})
    async with httpx.AsyncClient(base_url=fx_live_server.url, trust_env=False, timeout=30) as client:
        unsigned = await client.post(f"/t/{s['slug']}/webhooks/twilio/voice", data={"CallSid": "CA1"})
        assert unsigned.status_code == 403
        evil = await client.post(f"/t/{s['slug']}/chat/sessions", json={},
                                 headers={"Origin": "https://evil.example"})
        assert evil.status_code == 403

    page = await (await fx_new_context()).new_page()
    await sign_in(page, s)
    await page.get_by_test_id("nav-security").click()
    latest = page.get_by_test_id("security-latest")
    await expect(latest.locator('tr[data-reason="missing_signature"]')).to_contain_text(
        f"/t/{s['slug']}/webhooks/twilio/voice")
    await expect(latest.locator('tr[data-reason="foreign_origin"]')).to_contain_text("https://evil.example")
    days = page.get_by_test_id("security-days")
    await expect(days.locator('tr[data-reason="foreign_origin"]')).to_contain_text("Chat call from a site not in")
    await expect(days.locator("tbody tr")).to_have_count(2)
