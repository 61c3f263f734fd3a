"""SLA in Chromium: an admin adds a policy on the SLA page (first response in 10 seconds, warning at 50 %); a new
item's badge on the supervisor's console turns from green to amber to red on its own (ticking in the browser from
the due time), and the breach shows up as a line in the supervisor's SLA alerts panel (and again when the console is
opened later). The queue sorts by SLA due and stays sorted through live re-renders. axe finds nothing serious."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, LiveShop, NewContext, live_signup, sign_in
from tests.e2e.test_usable import serious_violations


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
    assert not await serious_violations(page), "the console with SLA badges and alerts"
    await page.goto(f"/t/{shop.slug}/settings/sla/")
    assert not await serious_violations(page), "the SLA policies page"


async def test_the_queue_sorts_by_sla_due_and_stays_sorted(fx_new_context: NewContext,
                                                           fx_live_server: LiveServer) -> None:
    shop = await live_signup(fx_live_server, "slasort")
    await _api(fx_live_server.url, shop, "POST", "/sla/policies",
               {"name": "SMS", "channel": "sms", "first_response_seconds": 3600})
    await _api(fx_live_server.url, shop, "POST", "/sla/policies",
               {"name": "Email", "channel": "email", "first_response_seconds": 600})
    page = await (await fx_new_context()).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)
    await page.goto(f"/t/{shop.slug}/console/")
    for channel, subject in (("sms", "Due in an hour"), ("email", "Due in ten minutes")):
        await _api(fx_live_server.url, shop, "POST", "/conversations", {"channel": channel, "subject": subject})
    items = page.get_by_test_id("queue-item")
    await expect(items.get_by_test_id("sla-badge")).to_have_count(2)
    await expect(items.first).to_contain_text("Due in an hour")  # the queue's own order: first come
    await page.get_by_test_id("sla-sort").click()
    await expect(page.get_by_test_id("sla-sort")).to_have_attribute("aria-pressed", "true")
    await expect(items.first).to_contain_text("Due in ten minutes")
    await _api(fx_live_server.url, shop, "POST", "/conversations", {"channel": "chat", "subject": "No promise"})
    await expect(items).to_have_count(3)  # a live re-render of the queue: still sorted, no clock last
    await expect(items.nth(0)).to_contain_text("Due in ten minutes")
    await expect(items.nth(1)).to_contain_text("Due in an hour")
    await expect(items.nth(2)).to_contain_text("No promise")
