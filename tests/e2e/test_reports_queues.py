"""The queue service report in Chromium (issue 18): two conversations are queued through the API, one is taken;
the live server's worker writes their queue visits; the owner opens Queue service from the reports index and sees
the chart drawn, the service-level formula the shop chose on hover and in the Formulas list, changes the formula
under Settings → Service level and sees the report print the new one, and clicks the answered count to reach the
conversation behind it."""

from __future__ import annotations

import asyncio
import time

from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, NewContext, live_signup, sign_in
from tests.e2e.test_reports import _api


async def test_queue_service_formula_chart_and_drill_down(fx_new_context: NewContext,
                                                          fx_live_server: LiveServer) -> None:
    shop = await live_signup(fx_live_server, "rq")
    base = fx_live_server.url
    taken = (await _api(base, shop, "POST", "/conversations", {"channel": "sms", "subject": "Parcel?"}))["id"]
    await _api(base, shop, "POST", "/conversations", {"channel": "sms", "subject": "Still waiting"})
    await _api(base, shop, "POST", f"/conversations/{taken}/take")
    deadline = time.monotonic() + 30
    while (await _api(base, shop, "GET", "/reports/queues"))["totals"]["answered"] != 1:  # the worker's listener
        assert time.monotonic() < deadline, "the reports listener did not count the answered conversation"
        await asyncio.sleep(0.2)

    page = await (await fx_new_context()).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)
    await page.get_by_test_id("nav-reports").click()
    await page.get_by_test_id("report-link-queues").click()
    await expect(page.get_by_test_id("report-chart")).to_have_attribute("data-ready", "1")
    header = page.get_by_test_id("report-table").locator("th[data-key=service_level]")
    await expect(header).to_have_attribute("title", "answered within T ÷ (offered - short abandons)")
    await expect(page.get_by_test_id("report-notes")).to_contain_text("T = 20 s")

    await page.get_by_test_id("nav-service-level").click()
    await page.get_by_test_id("formula-answered_abandoned").check()
    await page.get_by_test_id("service-level-seconds").fill("30")
    await page.get_by_test_id("service-level-form").get_by_role("button").click()
    await expect(page.get_by_test_id("notice")).to_be_visible()
    await page.goto(f"{base}/t/{shop.slug}/reports/queues")
    await expect(page.get_by_test_id("formulas")).to_contain_text("answered within T ÷ (answered + abandoned)")
    await expect(page.get_by_test_id("report-notes")).to_contain_text("T = 30 s")

    totals = page.get_by_test_id("report-totals")
    await expect(totals.locator("td[data-key=service_level]")).to_contain_text("100")
    link = totals.get_by_test_id("drill-answered")
    await expect(link).to_have_text("1")
    await link.click()
    await expect(page.get_by_test_id("drill-row")).to_have_count(1)
    await expect(page.get_by_test_id("drill-table")).to_contain_text(f"#{taken}")
