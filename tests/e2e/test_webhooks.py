"""Outbound webhooks in a real browser: an admin opens Settings → Webhooks, subscribes a receiver's URL to an event
with the events picker, copies the secret shown once, sends a test, sees it delivered in the log, and rotates the
secret; the receiver (a real server on loopback) verifies the delivery with the standardwebhooks package."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import LiveServer, NewContext
from tests.e2e.test_portal import call, shop, sign_in
from tests.integration.webhooks_kit import receiving

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


async def test_admin_subscribes_a_url_sends_a_test_and_rotates_the_secret(fx_new_context: NewContext,
                                                                          fx_live_server: LiveServer) -> None:
    s = await shop(fx_live_server, "hooks")
    async with receiving() as (receiver, url):
        page = await (await fx_new_context()).new_page()
        await sign_in(page, s)
        await page.get_by_test_id("nav-webhooks").click()
        form = page.get_by_test_id("new-endpoint")
        await form.get_by_label("URL").fill(url)
        await form.get_by_test_id("events-picker").get_by_label("contact.created").check()
        await form.get_by_role("button", name="Add endpoint").click()
        secret = (await page.get_by_test_id("secret").locator("code").inner_text()).strip()
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]{40,}", secret)

        await page.get_by_test_id("send-test").click()
        await expect(page.get_by_test_id("notice")).to_contain_text("Test message queued")
        delivered = page.locator('[data-testid="delivery"][data-status="succeeded"]')
        for _ in range(60):  # the live server's worker sends it: reload until the log shows the answer
            if await delivered.count():
                break
            await page.wait_for_timeout(250)
            await page.reload()
        await expect(delivered).to_have_count(1)
        await expect(delivered).to_contain_text("webhook.test")
        assert Webhook(secret).verify(receiver.requests[0]["body"], receiver.requests[0]["headers"])["type"] == \
            "webhook.test"

        await page.get_by_test_id("rotate").click()
        new = (await page.get_by_test_id("secret").locator("code").inner_text()).strip()
        assert new != secret and new.startswith("whsec_")
        await expect(page.get_by_test_id("secrets").locator("tbody tr")).to_have_count(2)
        [endpoint] = await call(fx_live_server, s, "GET", "/webhooks")
        assert endpoint["events"] == ["contact.created"] and endpoint["enabled"] is True
