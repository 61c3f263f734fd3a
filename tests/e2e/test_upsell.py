"""Upsell in Chromium: the card shows what to offer with its reason; "Accepted" is recorded and the upsell page
counts it beside the pairs."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, NewContext, live_signup, sign_in
from tests.e2e.test_console import _api

BEANS = {"name": "Espresso beans 1kg", "sku": "BEAN-1", "category": "Coffee", "quantity": 1, "unit_price": 1999}
GRINDER = {"name": "Grinder", "sku": "GR-9", "category": "Equipment", "quantity": 1, "unit_price": 8950}


async def test_card_suggestion_with_reason_and_accepted(fx_new_context: NewContext,
                                                        fx_live_server: LiveServer) -> None:
    shop = await live_signup(fx_live_server, "upsell")
    ids = []
    for name, items in (("Ann Both", [BEANS, GRINDER]), ("Ben Both", [BEANS, GRINDER]), ("Cid Beans", [BEANS])):
        contact = await _api(fx_live_server.url, shop, "POST", "/contacts", {"name": name})
        await _api(fx_live_server.url, shop, "POST", "/orders",
                   {"contact_id": contact["id"], "currency": "USD", "items": items})
        ids.append(contact["id"])
    counts = await _api(fx_live_server.url, shop, "POST", "/upsell/recompute")
    assert counts["pairs"] == 2

    page: Any = await (await fx_new_context()).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)
    await page.goto(f"/t/{shop.slug}/contacts/{ids[2]}")
    panel = page.get_by_test_id("upsell-panel")
    suggestion = panel.get_by_test_id("upsell-suggestion")
    await expect(suggestion).to_have_count(1)
    await expect(suggestion).to_have_attribute("data-product-key", "GR-9")
    await expect(suggestion.get_by_test_id("upsell-reason")).to_have_text(
        "Bought Espresso beans 1kg: 67% of the clients who bought it also bought this (lift 1.00).")
    await suggestion.get_by_test_id("upsell-accepted").click()
    await expect(page.get_by_test_id("upsell-panel").get_by_test_id("notice")).to_contain_text("accepted")
    await expect(page.get_by_test_id("upsell-panel").get_by_test_id("upsell-accepted")).to_be_disabled()

    await page.get_by_test_id("nav-upsell").click()
    await expect(page.get_by_test_id("upsell-accepted-count")).to_have_text("1")
    await expect(page.get_by_test_id("upsell-shown")).to_have_text("1")
    await expect(page.get_by_test_id("upsell-pairs").get_by_test_id("upsell-pair")).to_have_count(2)
