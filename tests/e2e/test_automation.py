"""The automation builder in a real browser: an admin builds a rule with nested all/any conditions and a delayed
step, tests it against a contact (each condition's value and result), saves and enables it; after the event the
run shows on the contact's card, live."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, NewContext
from tests.e2e.test_portal import call, shop, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


async def test_admin_builds_tests_and_enables_a_rule_then_sees_its_run_on_the_card(
        fx_new_context: NewContext, fx_live_server: LiveServer) -> None:
    s = await shop(fx_live_server, "auto")
    vip = await call(fx_live_server, s, "POST", "/contacts", {"name": "Vera Vip", "tags": ["vip"]})
    plain = await call(fx_live_server, s, "POST", "/contacts", {"name": "Paul Plain"})
    page = await (await fx_new_context()).new_page()
    await sign_in(page, s)
    await page.get_by_test_id("nav-automation").click()
    await page.get_by_test_id("new-rule").click()

    root = page.get_by_test_id("conditions").get_by_test_id("group").first
    await expect(root).to_be_visible()  # the builder's script has drawn the (empty) root group
    await page.get_by_test_id("rule-name").fill("VIP notes")
    await page.get_by_test_id("rule-event").select_option("note.added")
    # all: contact has tag vip, and any of (name contains "vera", temperature is hot)
    await root.get_by_test_id("add-leaf").first.click()
    leaf = root.get_by_test_id("leaf-editor").first
    await leaf.get_by_test_id("leaf-field").select_option("contact.tags")
    await leaf.get_by_test_id("leaf-op").select_option("contains")
    await leaf.get_by_test_id("leaf-value").fill("vip")
    await root.get_by_test_id("add-group").first.click()
    inner = root.get_by_test_id("group").first
    await inner.get_by_test_id("group-kind").select_option("any")
    for field, op, value in (("contact.name", "contains", "vera"), ("contact.temperature", "equals", "hot")):
        await inner.get_by_test_id("add-leaf").click()
        row = inner.get_by_test_id("leaf-editor").last
        await row.get_by_test_id("leaf-field").select_option(field)
        await row.get_by_test_id("leaf-op").select_option(op)
        await row.get_by_test_id("leaf-value").fill(value)
    # then: tag at once, wait a day, then make the contact hot
    for kind in ("add_tag", "wait", "set_temperature"):
        await page.get_by_test_id("add-action").click()
        await page.get_by_test_id("action-editor").last.get_by_test_id("action-type").select_option(kind)
    actions = page.get_by_test_id("action-editor")
    await actions.nth(0).get_by_test_id("param-tag").fill("noted")
    await actions.nth(1).get_by_test_id("param-minutes").fill("1440")
    await actions.nth(2).get_by_test_id("param-temperature").select_option("hot")

    await page.get_by_test_id("test-id").fill(str(vip["id"]))
    await page.get_by_test_id("test-rule").click()
    result = page.get_by_test_id("test-result")
    await expect(result).to_have_attribute("data-matched", "yes")
    await expect(result.get_by_test_id("leaf")).to_have_count(3)
    await expect(result).to_contain_text('"Vera Vip"')
    await page.get_by_test_id("test-id").fill(str(plain["id"]))
    await page.get_by_test_id("test-rule").click()
    await expect(page.get_by_test_id("test-result")).to_have_attribute("data-matched", "no")

    await page.get_by_test_id("save-rule").click()
    await expect(page.get_by_test_id("rule-toggle")).to_have_attribute("data-enabled", "no")
    await page.get_by_test_id("enable-rule").click()
    await expect(page.get_by_test_id("rule-toggle")).to_have_attribute("data-enabled", "yes")
    [rule] = await call(fx_live_server, s, "GET", "/automation/rules")
    assert rule["enabled"] and rule["conditions"] == {"all": [
        {"field": "contact.tags", "op": "contains", "value": "vip"},
        {"any": [{"field": "contact.name", "op": "contains", "value": "vera"},
                 {"field": "contact.temperature", "op": "equals", "value": "hot"}]}]}
    assert [a["type"] for a in rule["actions"]] == ["add_tag", "wait", "set_temperature"]

    await page.goto(f"/t/{s['slug']}/contacts/{vip['id']}")
    await expect(page.get_by_test_id("automation-card")).to_contain_text("No automation has run")
    await call(fx_live_server, s, "POST", f"/contacts/{vip['id']}/notes", {"body": "Asked about the loyalty card"})
    run = page.get_by_test_id("card-run")
    await expect(run).to_have_attribute("data-status", "waiting", timeout=20_000)  # pushed live to the card
    await expect(run).to_contain_text("VIP notes")
    await run.locator("summary").click()
    await expect(run.get_by_test_id("leaf")).to_have_count(3)
    card = await call(fx_live_server, s, "GET", f"/contacts/{vip['id']}")
    assert "noted" in card["tags"] and card["temperature"] != "hot"  # the step after the wait has not run yet
