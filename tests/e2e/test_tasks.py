"""Tasks in Chromium: a callback task made at wrap-up in the console appears in "My tasks" at once, its reminder
arrives as a toast on the console, and a later reminder reaches a page without a console (the deals board)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, NewContext, live_signup, sign_in
from tests.e2e.test_console import _api


async def test_a_task_made_at_wrap_up_shows_in_my_tasks_and_its_reminder_toasts_on_every_page(
    fx_new_context: NewContext, fx_live_server: LiveServer
) -> None:
    shop = await live_signup(fx_live_server, "tasks")
    page: Any = await (await fx_new_context()).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)
    contact = await _api(fx_live_server.url, shop, "POST", "/contacts", {"name": "Wanda Callback"})
    await _api(fx_live_server.url, shop, "POST", "/conversations",
               {"channel": "chat", "contact_id": contact["id"], "subject": "Call me tomorrow"})
    await page.goto(f"/t/{shop.slug}/console/")
    await expect(page.get_by_test_id("my-tasks-empty")).to_be_visible()
    await page.get_by_test_id("take").click()
    item = page.get_by_test_id("mine-item")
    await expect(item).to_contain_text("Wanda Callback")

    # The workspace reads times in UTC (no zone chosen): due in five minutes, reminded 15 minutes before, i.e. now.
    due = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    await item.get_by_test_id("quick-callback-due").fill(due)
    await item.get_by_test_id("quick-callback-create").click()
    await expect(page.get_by_test_id("console-flash")).to_contain_text("Call back Wanda Callback")
    mine = page.get_by_test_id("my-tasks")
    await expect(mine.get_by_test_id("task-item")).to_have_count(1)
    await expect(mine).to_contain_text("Call back Wanda Callback")
    toast = page.get_by_test_id("task-toast")
    await expect(toast).to_have_count(1, timeout=30_000)
    await expect(toast).to_contain_text("Call back Wanda Callback")

    # A page with no console of its own (the deals board) gets the next reminder too.
    await page.goto(f"/t/{shop.slug}/deals/")
    await expect(page.get_by_test_id("toast-socket")).to_be_attached()
    await expect(page.locator("body[data-sb-socket=open]")).to_be_attached()  # connected before the reminder
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat()
    await _api(fx_live_server.url, shop, "POST", "/tasks", {"contact_id": contact["id"], "title": "Send the invoice",
                                                           "kind": "todo", "due_at": soon})
    await expect(page.get_by_test_id("task-toast")).to_contain_text("Send the invoice", timeout=30_000)
