"""A supervisor builds a segment in the browser (the live count follows the condition), writes an SMS campaign to it
(a variable from the picker, a holdout, a schedule a few seconds away), previews it, sends it through the Twilio
simulator, and watches the campaign page fill in live: the rows appear when it starts and every recipient's status
moves without a reload. A contact outside the segment gets nothing."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from telephony.simulator import Simulator
from tests.e2e.conftest import LiveServer, NewContext, live_signup, sign_in
from tests.e2e.test_telephony_console import phone_shop_server  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]
NAMES = ["Ann Lee", "Boris Ivanov", "Cleo Park", "Dan Ruiz", "Eva Stone", "Finn Moss"]
OUTSIDER = "+14157779999"


async def test_write_send_and_watch_a_campaign_live(fx_new_context: NewContext,
                                                    fx_phone_shop_server: tuple[LiveServer, Simulator]) -> None:
    server, sim = fx_phone_shop_server
    shop = await live_signup(server, "camp")
    token = secrets.token_hex(16)
    acct = sim.add_account(auth_token=token)
    number = "+14155550177"
    hooks = f"{server.url}/t/{shop.slug}/webhooks/twilio"
    sim.add_number(acct.sid, number, voice_url=f"{hooks}/voice", status_callback=f"{hooks}/status",
                   sms_url=f"{hooks}/sms")
    phones = [f"+1415777{i:04d}" for i in range(len(NAMES))]
    async with httpx.AsyncClient(base_url=f"{server.url}/t/{shop.slug}/api/v1", timeout=30, trust_env=False,
                                 headers=shop.auth) as api:
        saved = await api.put("/channels/twilio", json={"account_sid": acct.sid, "auth_token": token,
                                                        "numbers": [number]})
        assert saved.status_code == 200, saved.text
        for name, phone in zip(NAMES, phones, strict=True):
            resp = await api.post("/contacts", json={"name": name, "phones": [phone], "tags": ["regular"]})
            assert resp.status_code == 201, resp.text
        outsider = await api.post("/contacts", json={"name": "Olga Other", "phones": [OUTSIDER]})
        assert outsider.status_code == 201, outsider.text

    page = await (await fx_new_context(base_url=server.url)).new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    await sign_in(page, shop.slug, shop.email, shop.password)

    # The segment, built in the segment builder: regulars only.
    await page.get_by_test_id("nav-segments").click()
    await page.get_by_test_id("new-segment").click()
    count = page.locator("#segment-count")
    await expect(count).to_have_attribute("data-count", str(len(NAMES) + 1))  # an empty definition: everyone
    await page.locator("#segment-name").fill("Regulars")
    root = page.get_by_test_id("conditions").get_by_test_id("group").first
    await root.get_by_test_id("add-leaf").click()
    leaf = root.get_by_test_id("leaf-editor").last
    await leaf.get_by_test_id("leaf-field").select_option("contact.tags")
    await leaf.get_by_test_id("leaf-op").select_option("contains")
    await leaf.get_by_test_id("leaf-value").fill("regular")
    await expect(count).to_have_attribute("data-count", str(len(NAMES)))
    await page.locator("#segment-save").click()
    await expect(page.locator("#segment-count")).to_have_attribute("data-count", str(len(NAMES)))

    await page.get_by_test_id("nav-campaigns").click()
    await page.get_by_test_id("new-campaign").click()
    await page.get_by_test_id("campaign-name").fill("Spring beans")
    await page.get_by_test_id("campaign-segment").select_option(label="Regulars")
    body = page.get_by_test_id("body-A-default")
    await body.fill("Hi ")
    await page.get_by_test_id("variable-picker").get_by_role("button", name="contact.first_name").click()
    await body.press("End")
    await body.type(", new beans are in!")
    await expect(body).to_have_value("Hi {{ contact.first_name }}, new beans are in!")
    await page.get_by_test_id("campaign-holdout").fill("30")
    await page.get_by_test_id("campaign-save").click()
    await expect(page.get_by_test_id("campaign-preview")).to_be_visible()  # saved: the draft's editor
    await page.wait_for_load_state("load")  # htmx has processed the page (it wires the Preview button)
    async with page.expect_response(lambda r: r.url.endswith("/preview")) as answer:
        await page.get_by_test_id("campaign-preview").click()
    response = await answer.value
    assert response.status == 200, await response.text()
    await expect(page.get_by_test_id("preview-body-A")).to_have_text("Hi Ann, new beans are in!")

    # Sent for a few seconds from now (the workspace's zone is UTC): the page is open when it starts.
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=8)).strftime("%Y-%m-%dT%H:%M:%S")
    await page.get_by_test_id("campaign-schedule").fill(at)
    await page.get_by_test_id("campaign-send").click()
    await expect(page.get_by_test_id("campaign-status")).to_have_text("Scheduled")
    await expect(page.get_by_test_id("recipient-rows")).to_contain_text("Nobody yet.")
    await page.evaluate("window.__noReload = true")

    await expect(page.get_by_test_id("campaign-status")).to_have_text("Done", timeout=60_000)
    rows = page.get_by_test_id("recipient")
    await expect(rows).to_have_count(len(NAMES), timeout=30_000)
    await expect(page.locator("[data-testid='recipient'][data-status='queued'], "
                              "[data-testid='recipient'][data-status='sending']")).to_have_count(0, timeout=30_000)
    statuses: list[str] = [await r.get_attribute("data-status") or "" for r in await rows.all()]
    sent = [s for s in statuses if s in ("sent", "delivered")]
    held = [s for s in statuses if s == "held_out"]
    assert len(sent) + len(held) == len(NAMES) and sent, statuses
    assert await page.evaluate("window.__noReload === true"), "the page was reloaded"
    texts = [m for m in sim.messages.values() if m.direction == "outbound-api"]
    assert len(texts) == len(sent)
    by_phone: dict[str, Any] = {m.to: m for m in texts}
    assert OUTSIDER not in by_phone, "a contact outside the segment got the campaign"
    for name, phone in zip(NAMES, phones, strict=True):
        if phone in by_phone:
            assert by_phone[phone].body == f"Hi {name.split()[0]}, new beans are in!"
    await expect(page.get_by_test_id("count-held_out")).to_have_attribute("data-count", str(len(held)))
