"""SLA in Chromium: an admin adds a policy on the SLA page (first response in 10 seconds, warning at 50 %); a new
item's badge on the supervisor's console turns from green to amber to red on its own (ticking in the browser from
the due time), and the breach shows up as a line in the supervisor's SLA alerts panel."""

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


async def test_supervisor_sees_the_badge_turn_amber_then_red_and_an_alert(fx_new_context: NewContext,
                                                                         fx_live_server: LiveServer) -> None:
    shop = await live_signup(fx_live_server, "sla")
    page = await (await fx_new_context()).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)  # the owner: a supervisor and an admin

    await page.goto(f"/t/{shop.slug}/settings/sla/")
    form = page.get_by_test_id("new-sla-policy")
    await form.locator("input[name=name]").fill("Fast SMS")
    await form.locator("select[name=channel]").select_option("sms")
    await form.locator("input[name=first_response_value]").fill("10")
    await form.locator("select[name=first_response_unit]").select_option("seconds")
    await form.locator("input[name=warn_percent]").fill("50")
    await form.get_by_role("button", name="Add policy").click()
    await expect(page.get_by_test_id("notice")).to_contain_text("Fast SMS")
    policies = await _api(fx_live_server.url, shop, "GET", "/sla/policies")
    assert [(p["name"], p["channel"], p["first_response_seconds"], p["warn_percent"]) for p in policies] == [
        ("Fast SMS", "sms", 10, 50)]

    await page.goto(f"/t/{shop.slug}/console/")
    await expect(page.get_by_test_id("sla-alerts-panel")).to_be_visible()
    await _api(fx_live_server.url, shop, "POST", "/conversations", {"channel": "sms", "subject": "Where is it?"})
    item = page.get_by_test_id("queue-item").filter(has_text="Where is it?")
    badge = item.get_by_test_id("sla-badge")
    await expect(badge).to_have_class(re.compile(r"\bsla-running\b"))
    await expect(badge).to_have_class(re.compile(r"\bsla-warning\b"), timeout=20_000)
    await expect(badge).to_have_class(re.compile(r"\bsla-breached\b"), timeout=20_000)
    await expect(badge).to_have_text(re.compile(r"^-\d+:\d\d$"))  # counting the time overdue

    alert = page.get_by_test_id("sla-alert").filter(has_text="SLA breached")
    await expect(alert).to_have_count(1, timeout=20_000)
    await expect(page.get_by_test_id("sla-alert").filter(has_text="SLA warning")).to_have_count(1)
    # Opened later, the panel lists what is overdue now (the breached clock), not only what happens from then on.
    await page.reload()
    await expect(page.get_by_test_id("sla-alert").filter(has_text="SLA breached")).to_have_count(1)
    await expect(page.get_by_test_id("sla-alert")).to_have_count(1)
