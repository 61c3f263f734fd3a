"""The operator's order page is live in the browser: the shop's API changes the status and records a payment, and
the open page shows both without a reload, with status controls fresh enough to use at once."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, NewContext
from tests.e2e.test_portal import call, new_order, shop, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


async def test_open_order_page_follows_api_status_and_payment(fx_new_context: NewContext,
                                                              fx_live_server: LiveServer) -> None:
    s = await shop(fx_live_server, "olive")
    order = await new_order(fx_live_server, s, "L-1")
    other = await new_order(fx_live_server, s, "L-2")

    page = await (await fx_new_context()).new_page()
    await sign_in(page, s)
    await page.goto(f"/t/{s['slug']}/orders/{order['id']}")
    await expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "new")
    await expect(page.get_by_test_id("order-payments")).to_contain_text("None yet.")
    await page.evaluate("window.__noReload = true")
    await asyncio.sleep(0.3)  # let the console socket connect and ask to watch this order

    await call(fx_live_server, s, "POST", f"/orders/{other['id']}/status", {"status": "cancelled"})
    await call(fx_live_server, s, "POST", f"/orders/{order['id']}/status", {"status": "paid"})
    await expect(page.get_by_test_id("order-status")).to_have_text("Paid")
    await expect(page.locator("#order-history")).to_contain_text("New → Paid")  # names, not keys
    await call(fx_live_server, s, "POST", f"/orders/{order['id']}/payments", {"amount": 1000, "method": "card"})
    await expect(page.get_by_test_id("order-payments")).to_contain_text("€10.00")
    await expect(page.get_by_test_id("order-paid")).to_have_text("€10.00")
    assert await page.evaluate("window.__noReload === true"), "the page was reloaded"
    await expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "paid")  # not L-2's change

    # The swapped controls carry the new version: the operator moves the order on without a stale-version refusal.
    await page.get_by_test_id("status-select").select_option("packed")
    await page.get_by_role("button", name="Change status").click()
    await expect(page.get_by_test_id("order-status")).to_have_text("Packed")
    await expect(page.get_by_test_id("error")).to_have_count(0)
