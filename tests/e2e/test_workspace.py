"""The operator's workspace end to end in headless Chromium: an SMS from the simulated Twilio, a web chat and a
phone call handled from one screen without a page load (the URL path stays under /workspace), the client's orders
and timeline in the right pane, a reply on another channel, wrap-up, and back/reload keeping the place."""

from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest
from playwright.async_api import expect

from telephony.simulator import Simulator
from tests.e2e.conftest import LiveServer, NewContext, live_signup, sign_in
from tests.e2e.test_telephony_console import phone_shop_server  # noqa: F401  (the fixture: app + simulator)

pytestmark = [pytest.mark.e2e]

OPERATOR_PHONE = "+14155550123"
CUSTOMER = "+14155550188"
NUMBER = "+14155550100"
SITE = "http://localhost:8765"


async def _setup(server: LiveServer, sim: Simulator) -> tuple[object, int]:
    shop = await live_signup(server, "desk")
    token = secrets.token_hex(16)
    acct = sim.add_account(auth_token=token)
    hooks = f"{server.url}/t/{shop.slug}/webhooks/twilio"
    sim.add_number(acct.sid, NUMBER, voice_url=f"{hooks}/voice", status_callback=f"{hooks}/status",
                   sms_url=f"{hooks}/sms")
    async with httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False, headers=shop.auth) as api:
        me = (await api.get(f"/t/{shop.slug}/api/v1/me")).json()
        saved = await api.put(f"/t/{shop.slug}/api/v1/channels/twilio", json={
            "account_sid": acct.sid, "auth_token": token, "numbers": [NUMBER], "record_calls": False,
            "devices": [{"user_id": me["id"], "address": OPERATOR_PHONE}]})
        assert saved.status_code == 200, saved.text
        chat = await api.put(f"/t/{shop.slug}/api/v1/chat/settings", json={"allowed_origins": [SITE]})
        assert chat.status_code == 200, chat.text
        contact = await api.post(f"/t/{shop.slug}/api/v1/contacts", json={
            "name": "Mara Petrova", "phones": [CUSTOMER], "emails": ["mara@example.com"], "tags": ["vip"]})
        order = await api.post(f"/t/{shop.slug}/api/v1/orders", json={
            "currency": "USD", "contact_id": contact.json()["id"], "number": "A-1042",
            "items": [{"name": "Espresso beans", "quantity": 2, "unit_price": 1450}]})
        assert order.status_code in (200, 201), order.text
    return shop, contact.json()["id"]


async def test_operator_handles_sms_chat_and_call_from_one_screen(
        fx_new_context: NewContext, fx_phone_shop_server: tuple[LiveServer, Simulator]) -> None:
    server, sim = fx_phone_shop_server
    shop, _ = await _setup(server, sim)
    page = await (await fx_new_context(base_url=server.url)).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)  # type: ignore[attr-defined]
    slug = shop.slug  # type: ignore[attr-defined]
    await page.goto(f"/t/{slug}/workspace/")
    await expect(page.get_by_test_id("ws-pick")).to_be_visible()
    await page.evaluate("window.__sameDocument = true")
    await asyncio.sleep(0.5)  # the page's socket is subscribed

    async def still_in_the_workspace() -> None:
        assert await page.evaluate("window.__sameDocument === true"), "the page was reloaded"
        assert (await page.evaluate("location.pathname")).startswith(f"/t/{slug}/workspace")

    # 1. An SMS from the simulator: it appears in the list live; the keyboard opens it.
    sim.send_sms(CUSTOMER, NUMBER, "Has my order shipped?")
    item = page.get_by_test_id("ws-item").filter(has_text="Mara Petrova")
    await expect(item).to_have_count(1)
    await expect(item.get_by_test_id("ws-unread")).to_have_text("1")
    await page.keyboard.press("j")
    await page.keyboard.press("Enter")
    main = page.get_by_test_id("ws-main")
    await expect(main.get_by_test_id("ws-thread")).to_contain_text("Has my order shipped?")
    sms_url = await page.evaluate("location.pathname")
    assert sms_url.startswith(f"/t/{slug}/workspace/")
    # The right pane: who, what they bought, what happened.
    await expect(main.get_by_test_id("contact-name")).to_have_text("Mara Petrova")
    await expect(main.get_by_test_id("ws-order")).to_contain_text("A-1042")
    await expect(main.locator("#timeline-items")).to_contain_text("Has my order shipped?")
    await page.keyboard.press("a")
    await expect(main.get_by_test_id("ws-status")).to_have_attribute("data-status", "active")
    await page.keyboard.press("r")
    await page.keyboard.type("Yes, it left this morning.")
    await page.keyboard.press("Control+Enter")
    await expect(main.get_by_test_id("ws-flash")).to_contain_text("Sent.")
    await expect(main.get_by_test_id("ws-thread")).to_contain_text("Yes, it left this morning.")  # pushed live
    sent = main.get_by_test_id("ws-item-msg").filter(has_text="Yes, it left this morning.")
    await expect(sent.locator(".status")).to_have_attribute("data-status", "delivered")  # the status callback
    await still_in_the_workspace()
    # The client writes again while the conversation is on screen: it appears, and counts as read.
    sim.send_sms(CUSTOMER, NUMBER, "Great, thanks!")
    await expect(main.get_by_test_id("ws-thread")).to_contain_text("Great, thanks!")
    await expect(item.get_by_test_id("ws-unread")).to_have_count(0)
    # @ in a note lists teammates; Tab completes the handle.
    await main.get_by_test_id("ws-note-body").click()
    await page.keyboard.type("@ow")
    await expect(main.get_by_test_id("ws-mention-option")).to_have_text(["owner"])  # the signed-up owner is called so
    await page.keyboard.press("Tab")
    await expect(main.get_by_test_id("ws-note-body")).to_have_value("@owner ")
    await main.get_by_test_id("ws-note-body").fill("")

    # 2. A web chat from the same client (the visitor leaves her phone): one thread across channels.
    async with httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False,
                                 headers={"Origin": SITE}) as visitor:
        started = await visitor.post(f"/t/{slug}/chat/sessions", json={"name": "Mara", "phone": CUSTOMER,
                                                                        "page_url": SITE + "/"})
        assert started.status_code in (200, 201), started.text
        sent = await visitor.post(f"/t/{slug}/chat/messages", json={"body": "Also, can I add a grinder?"},
                                  headers={"X-Chat-Token": started.json()["token"]})
        assert sent.status_code in (200, 201), sent.text
    chat_item = page.get_by_test_id("ws-item").filter(has=page.get_by_test_id("ws-item-channel").filter(
        has_text="chat"))
    await expect(chat_item).to_have_count(1)
    await chat_item.locator("a").click()
    await expect(main.get_by_test_id("ws-channel")).to_have_text("chat")
    await expect(main.get_by_test_id("ws-thread")).to_contain_text("Also, can I add a grinder?")
    await expect(main.get_by_test_id("ws-thread")).to_contain_text("Has my order shipped?")
    await main.get_by_test_id("ws-take").click()
    await expect(main.get_by_test_id("ws-status")).to_have_attribute("data-status", "active")
    # Answer the chat by SMS: the simulator's phone receives it.
    await main.get_by_test_id("ws-reply-channel").select_option("sms")
    await main.get_by_test_id("ws-reply-body").fill("I'll add the grinder and text you the total.")
    await main.get_by_test_id("ws-send").click()
    await expect(main.get_by_test_id("ws-flash")).to_contain_text("Sent.")
    await sim.until(lambda: any(m.to == CUSTOMER and "grinder" in m.body for m in sim.messages.values()),
                    what="the SMS reply")
    await main.get_by_test_id("ws-wrapup-code").fill("order_changed")
    await page.keyboard.press("Enter")
    await expect(main.get_by_test_id("ws-status")).to_have_attribute("data-status", "closed")
    await still_in_the_workspace()

    # 3. A phone call: accept it in the workspace, the simulator's operator phone answers, hang up, wrap up.
    call = sim.place_call(CUSTOMER, NUMBER)
    call_item = page.get_by_test_id("ws-item").filter(has=page.get_by_test_id("ws-item-channel").filter(
        has_text="call"))
    await expect(call_item).to_have_count(1)
    await call_item.locator("a").click()
    await expect(main.get_by_test_id("ws-channel")).to_have_text("call")
    await main.get_by_test_id("ws-take").click()
    leg = await sim.answer(OPERATOR_PHONE, within=15)
    # Calls run as Twilio Conferences: the caller and the operator's leg are in one started conference.
    await sim.until(lambda: sim.conferences.together(call.sid, leg.sid) is not None, what="the conference")
    await expect(main.get_by_test_id("ws-status")).to_have_attribute("data-status", "active")
    await expect(main.get_by_test_id("ws-call").get_by_test_id("hang-up")).to_be_visible()
    await expect(main.get_by_test_id("call-status")).to_have_text("in progress")  # pushed by call.updated
    await sim.hangup(call.sid)
    await expect(main.get_by_test_id("call-status")).to_have_text("ended")  # pushed by call.updated
    await main.get_by_test_id("ws-wrapup-code").fill("resolved")
    await main.get_by_test_id("ws-wrapup").click()
    await expect(main.get_by_test_id("ws-status")).to_have_attribute("data-status", "closed")
    await still_in_the_workspace()

    # Back returns to the earlier conversation; reload keeps the place.
    await page.go_back()
    await page.go_back()
    await expect(page).to_have_url(f"{server.url}{sms_url}")
    await page.reload()
    await expect(page.get_by_test_id("ws-main")).to_have_attribute("data-conversation-id", sms_url.rsplit("/", 1)[1])
    await expect(page.get_by_test_id("ws-thread")).to_contain_text("Has my order shipped?")
    # The `?` overlay lists the workspace's keys.
    await page.keyboard.press("?")
    await expect(page.get_by_test_id("shortcuts")).to_contain_text("Move down and up the list")
