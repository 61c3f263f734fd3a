"""Business hours in Chromium: an admin writes a week with split shifts on the hours page, adds a closed date,
gives the general queue a calendar that is closed now, and the console marks the queue "closed until ..."; the
hours pages have no serious accessibility violation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, NewContext, live_signup, sign_in
from tests.e2e.test_usable import serious_violations

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


async def test_admin_sets_business_hours_and_the_console_shows_closed(fx_new_context: NewContext,
                                                                      fx_live_server: LiveServer) -> None:
    shop = await live_signup(fx_live_server, "hours")
    page: Any = await (await fx_new_context()).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)
    await page.goto(f"/t/{shop.slug}/settings/hours/")
    form = page.get_by_test_id("new-calendar")
    await form.locator('input[name="name"]').fill("Shop hours")
    await form.locator('input[name="zone"]').fill("Europe/Sofia")
    await form.locator('input[name="country"]').fill("BG")
    for day in range(5):
        await form.get_by_test_id(f"day-{day}").fill("09:00-13:00, 14:00-18:00")
    await form.get_by_test_id("day-5").fill("10:00-14:00")
    await form.get_by_role("button").click()
    await expect(page.get_by_test_id("notice")).to_be_visible()
    await expect(page.get_by_test_id("day-0")).to_have_value("09:00-13:00, 14:00-18:00")
    await expect(page.get_by_test_id("public-holidays").locator("li").first).to_be_visible()
    assert not await serious_violations(page)

    closed = page.get_by_test_id("new-closed-date")
    await closed.locator('input[name="day"]').fill("2027-02-10")
    await closed.locator('input[name="name"]').fill("Stocktaking")
    await closed.get_by_role("button").click()
    await expect(page.get_by_test_id("closed-dates")).to_contain_text("Stocktaking")

    # A second calendar, open one hour three days from now, is closed whenever the test runs: the general queue
    # keeps it, and the console's queue panel says so.
    await page.goto(f"/t/{shop.slug}/settings/hours/")
    form = page.get_by_test_id("new-calendar")
    await form.locator('input[name="name"]').fill("Closed now")
    await form.locator('input[name="zone"]').fill("UTC")
    await form.get_by_test_id(f"day-{(dt.datetime.now(dt.UTC).weekday() + 3) % 7}").fill("12:00-13:00")
    await form.get_by_role("button").click()
    await expect(page.get_by_test_id("notice")).to_be_visible()
    await page.goto(f"/t/{shop.slug}/settings/hours/")
    general = page.locator('[data-testid="queue-hours"][data-key="general"]')
    await general.locator('select[name="calendar_id"]').select_option(label="Closed now")
    await general.get_by_role("button").click()
    await expect(page.get_by_test_id("notice")).to_be_visible()
    assert not await serious_violations(page)

    await page.goto(f"/t/{shop.slug}/console/")
    await expect(page.get_by_test_id("queue-closed-general")).to_contain_text("12:00")
