"""The segment builder in a real browser: a supervisor builds a segment from the shared condition editor and
watches the live count follow each edit, saves it, opens it as a filter on the contacts list, and ticks contacts
onto a static list."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, NewContext
from tests.e2e.test_portal import call, shop, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


async def test_build_a_segment_see_the_live_count_and_use_it_on_the_contacts_list(
        fx_new_context: NewContext, fx_live_server: LiveServer) -> None:
    s = await shop(fx_live_server, "seg")
    await call(fx_live_server, s, "POST", "/contacts", {"name": "Vera Vip", "tags": ["vip"], "temperature": "hot"})
    await call(fx_live_server, s, "POST", "/contacts", {"name": "Tina Vip", "tags": ["VIP"], "temperature": "cold"})
    paul = await call(fx_live_server, s, "POST", "/contacts", {"name": "Paul Plain"})
    page = await (await fx_new_context()).new_page()
    await sign_in(page, s)
    await page.get_by_test_id("nav-segments").click()
    await page.get_by_test_id("new-segment").click()

    count = page.locator("#segment-count")
    await expect(count).to_have_attribute("data-count", "3")  # an empty definition: everyone
    await page.locator("#segment-name").fill("Hot VIPs")
    root = page.get_by_test_id("conditions").get_by_test_id("group").first
    await root.get_by_test_id("add-leaf").click()
    leaf = root.get_by_test_id("leaf-editor").last
    await leaf.get_by_test_id("leaf-field").select_option("contact.tags")
    await leaf.get_by_test_id("leaf-op").select_option("contains")
    await leaf.get_by_test_id("leaf-value").fill("vip")
    await expect(count).to_have_attribute("data-count", "2")
    await root.get_by_test_id("add-leaf").click()
    leaf = root.get_by_test_id("leaf-editor").last
    await leaf.get_by_test_id("leaf-field").select_option("contact.temperature")
    await leaf.get_by_test_id("leaf-op").select_option("equals")
    await leaf.get_by_test_id("leaf-value").fill("hot")
    await expect(count).to_have_attribute("data-count", "1")
    await expect(count).to_contain_text("1")

    await page.locator("#segment-save").click()
    await expect(page.locator("#segment-count")).to_have_attribute("data-count", "1")
    [seg] = await call(fx_live_server, s, "GET", "/segments")
    assert seg["name"] == "Hot VIPs" and seg["count"] == 1
    assert seg["definition"] == {"all": [{"field": "contact.tags", "op": "contains", "value": "vip"},
                                         {"field": "contact.temperature", "op": "equals", "value": "hot"}]}

    await page.get_by_test_id("segment-open-list").click()
    await expect(page.get_by_test_id("contact-row")).to_have_count(1)
    await expect(page.get_by_test_id("contact-row")).to_contain_text("Vera Vip")

    # A static list filled from a selection on the contacts list.
    lst = await call(fx_live_server, s, "POST", "/segments", {"name": "Call back", "kind": "static"})
    await page.goto(f"/t/{s['slug']}/contacts/?q=paul")
    await expect(page.get_by_test_id("contact-row")).to_have_count(1)
    await page.get_by_test_id("contact-row").locator("input[type=checkbox]").check()
    await page.get_by_test_id("list-selection").locator("select").select_option(str(lst["id"]))
    await page.get_by_test_id("add-to-list").click()
    await expect(page.get_by_test_id("member-row")).to_have_count(1)
    members = await call(fx_live_server, s, "GET", f"/segments/{lst['id']}/contacts")
    assert [c["id"] for c in members["items"]] == [paul["id"]]
