"""The deals board in a real browser: dragging a card to another stage moves the deal and records the change;
dropping it on Lost asks why, and the reason is kept."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, NewContext
from tests.e2e.test_portal import call, shop, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


async def test_kanban_drag_moves_deal_and_records_stage_change(fx_new_context: NewContext,
                                                              fx_live_server: LiveServer) -> None:
    s = await shop(fx_live_server, "deals")
    contact = await call(fx_live_server, s, "POST", "/contacts", {"name": "Dora Dealer"})
    deal = await call(fx_live_server, s, "POST", "/deals", {"title": "Office coffee contract", "value": 480000,
                                                             "currency": "USD", "contact_id": contact["id"]})
    page = await (await fx_new_context()).new_page()
    await sign_in(page, s)
    await page.goto(f"/t/{s['slug']}/deals/")
    card = page.get_by_test_id(f"deal-{deal['id']}")
    await expect(page.get_by_test_id("stage-lead").get_by_test_id(f"deal-{deal['id']}")).to_contain_text("$4,800.00")

    await card.drag_to(page.get_by_test_id("stage-proposal"))
    await expect(page.get_by_test_id("stage-proposal").get_by_test_id(f"deal-{deal['id']}")).to_be_visible()
    await expect(page.get_by_test_id("stage-lead").get_by_test_id(f"deal-{deal['id']}")).to_have_count(0)
    assert (await call(fx_live_server, s, "GET", f"/deals/{deal['id']}"))["stage"] == "proposal"

    await page.get_by_test_id(f"deal-{deal['id']}").drag_to(page.get_by_test_id("stage-lost"))
    close = page.get_by_test_id("deal-close")
    await expect(close).to_contain_text("Why was it lost?")
    await close.get_by_role("button", name="Save").click()  # a lost deal needs a reason: the browser refuses
    await expect(page.get_by_test_id("stage-proposal").get_by_test_id(f"deal-{deal['id']}")).to_be_visible()
    await close.get_by_label("Reason").fill("Budget frozen until spring")
    await close.get_by_role("button", name="Save").click()
    await expect(page.get_by_test_id("stage-lost").get_by_test_id(f"deal-{deal['id']}")).to_contain_text(
        "Budget frozen until spring")

    got = await call(fx_live_server, s, "GET", f"/deals/{deal['id']}")
    assert [(h["from_stage"], h["to_stage"]) for h in got["history"]] == [
        (None, "lead"), ("lead", "proposal"), ("proposal", "lost")]
    timeline = await call(fx_live_server, s, "GET", f"/contacts/{contact['id']}/timeline?channel=system")
    summaries = [i["summary"] for i in timeline["items"]]
    assert any("lead → Proposal" in x for x in summaries) and any("Budget frozen" in x for x in summaries)
    await page.reload()
    await expect(page.get_by_test_id("stage-lost").get_by_test_id(f"deal-{deal['id']}")).to_be_visible()
