"""The revenue report in Chromium (issue 18): a client writes by SMS, then orders and pays; the owner goes from
Orders to the Revenue report, sees the chart drawn and the SMS row with its money and formula, opens the orders
behind the revenue figure and from there the order itself."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, NewContext, live_signup, sign_in


async def test_revenue_report_from_orders_to_the_order_behind_a_figure(fx_new_context: NewContext,
                                                                       fx_live_server: LiveServer) -> None:
    shop = await live_signup(fx_live_server, "rev")

    async def call(method: str, path: str, body: Any = None) -> Any:
        async with httpx.AsyncClient(base_url=fx_live_server.url, trust_env=False, timeout=30) as client:
            resp = await client.request(method, f"/t/{shop.slug}/api/v1{path}", json=body, headers=shop.auth)
        assert resp.status_code < 300, resp.text
        return resp.json()

    await call("PUT", "/workspace", {"currency": "USD"})
    contact = await call("POST", "/contacts", {"name": "Vera Buyer"})
    await call("POST", "/conversations", {"channel": "sms", "subject": "Do you ship to Varna?",
                                          "contact_id": contact["id"]})                  # the touch, before the order
    order = await call("POST", "/orders", {"contact_id": contact["id"], "currency": "USD", "shipping": 0,
                                           "discount": 0, "items": [{"name": "Kettle", "quantity": 1,
                                                                     "unit_price": 4250}]})
    await call("POST", f"/orders/{order['id']}/payments", {"amount": 4250, "method": "card"})
    await call("POST", f"/orders/{order['id']}/refunds", {"amount": 250, "method": "card"})

    page = await (await fx_new_context()).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)
    await page.goto(f"{fx_live_server.url}/t/{shop.slug}/orders/")
    await page.get_by_test_id("revenue-report").click()
    await expect(page.get_by_test_id("report-table")).to_be_visible()
    await expect(page.get_by_test_id("report-chart")).to_have_attribute("data-ready", "1")
    header = page.get_by_test_id("report-table").locator("th[data-key=revenue]")
    await expect(header).to_have_attribute("title", "Σ (payments - refunds) of the orders placed in the period")
    row = page.get_by_test_id("report-row").filter(has_text="SMS")
    link = row.get_by_test_id("drill-revenue")
    await expect(link).to_have_text("$40.00")                                            # 42.50 paid - 2.50 refunded
    await expect(page.get_by_test_id("report-totals").get_by_test_id("drill-revenue")).to_have_text("$40.00")
    await link.click()
    await expect(page.get_by_test_id("drill-row")).to_have_count(1)
    await expect(page.get_by_test_id("drill-table")).to_contain_text("Vera Buyer")
    await page.get_by_test_id("drill-link").click()
    await expect(page).to_have_url(f"{fx_live_server.url}/t/{shop.slug}/orders/{order['id']}")
