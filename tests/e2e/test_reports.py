"""Reports in Chromium (issue 18): a conversation is handled through the API; the live server's worker writes its
facts; the owner opens the Agent performance report and sees the chart drawn on its canvas and the table, each
number's formula on hover, and clicks the handled count to reach the rows behind it (the conversation itself)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, LiveShop, NewContext, live_signup, sign_in


async def _api(base: str, shop: LiveShop, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=30) as client:
        resp = await client.request(method, f"/t/{shop.slug}/api/v1{path}", json=body, headers=shop.auth)
    assert resp.status_code < 300, resp.text
    return resp.json() if resp.content else None


async def test_agents_report_chart_table_formula_and_drill_down(fx_new_context: NewContext,
                                                                fx_live_server: LiveServer) -> None:
    shop = await live_signup(fx_live_server, "rep")
    base = fx_live_server.url
    conv = (await _api(base, shop, "POST", "/conversations", {"channel": "sms", "subject": "Parcel?"}))["id"]
    await _api(base, shop, "POST", f"/conversations/{conv}/take")
    await _api(base, shop, "POST", f"/conversations/{conv}/wrapup", {"code": "info", "note": ""})
    deadline = time.monotonic() + 30
    while (await _api(base, shop, "GET", "/reports/agents"))["totals"]["handled"] != 1:  # the worker's listener
        assert time.monotonic() < deadline, "the reports listener did not count the handled conversation"
        await asyncio.sleep(0.2)

    page = await (await fx_new_context()).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)
    await page.get_by_test_id("nav-reports").click()
    await page.get_by_test_id("report-link-agents").click()
    await expect(page.get_by_test_id("report-table")).to_be_visible()
    canvas = page.get_by_test_id("report-chart")
    await expect(canvas).to_have_attribute("data-ready", "1")  # Chart.js drew it from the report's JSON
    header = page.get_by_test_id("report-table").locator("th[data-key=aht]")
    await expect(header).to_have_attribute("title", "(talk + hold + wrap) ÷ handled")
    await expect(page.get_by_test_id("formulas")).to_contain_text("(talk + hold + wrap) ÷ handled")
    row = page.get_by_test_id("report-row").filter(has_text="Owner")
    link = row.get_by_test_id("drill-handled")
    await expect(link).to_have_text("1")
    await link.click()
    await expect(page.get_by_test_id("drill-row")).to_have_count(1)
    await expect(page.get_by_test_id("drill-table")).to_contain_text(f"#{conv}")
    await expect(page.get_by_test_id("drill-csv")).to_be_visible()
