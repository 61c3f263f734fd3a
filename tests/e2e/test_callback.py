"""Callback, keep my place, in the browser: two callers wait; the second presses 1 in the hold loop and hangs up. The
operator's console shows the item as a callback at the same place, the customer's open portal page says "you are
number 2" and, without a reload, "number 1" once the caller ahead is taken; the operator clicks Call back, the
simulator rings the operator's phone and then the customer, and the portal line goes away."""

from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest
from playwright.async_api import expect

from telephony.simulator import Simulator
from tests.e2e.conftest import LiveServer, NewContext, live_signup, sign_in
from tests.e2e.test_telephony_console import phone_shop_server  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

OPERATOR_PHONE = "+14155550123"
AHEAD = "+14155550171"
CUSTOMER = "+14155550199"


async def test_callback_keeps_its_place_and_the_portal_line_follows_live(
        fx_new_context: NewContext, fx_phone_shop_server: tuple[LiveServer, Simulator]) -> None:
    server, sim = fx_phone_shop_server
    shop = await live_signup(server, "callback")
    token = secrets.token_hex(16)
    acct = sim.add_account(auth_token=token)
    number = "+14155550100"
    hooks = f"{server.url}/t/{shop.slug}/webhooks/twilio"
    sim.add_number(acct.sid, number, voice_url=f"{hooks}/voice", status_callback=f"{hooks}/status",
                   sms_url=f"{hooks}/sms")
    async with httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False) as api:
        me = (await api.get(f"/t/{shop.slug}/api/v1/me", headers=shop.auth)).json()
        saved = await api.put(f"/t/{shop.slug}/api/v1/channels/twilio", headers=shop.auth, json={
            "account_sid": acct.sid, "auth_token": token, "numbers": [number], "offer_callback": True,
            "devices": [{"user_id": me["id"], "address": OPERATOR_PHONE}]})
        assert saved.status_code == 200, saved.text
        contact = (await api.post(f"/t/{shop.slug}/api/v1/contacts", headers=shop.auth,
                                  json={"name": "Bea Caller", "phones": [CUSTOMER]})).json()
        order = (await api.post(f"/t/{shop.slug}/api/v1/orders", headers=shop.auth, json={
            "contact_id": contact["id"], "currency": "EUR", "number": "CB-7",
            "items": [{"name": "Beans", "quantity": 1, "unit_price": 1250}]})).json()
        portal = (await api.post(f"/t/{shop.slug}/api/v1/orders/{order['id']}/portal", headers=shop.auth)).json()

    page = await (await fx_new_context(base_url=server.url)).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)
    await page.goto(f"/t/{shop.slug}/console/")
    await expect(page.get_by_test_id("queue-empty")).to_be_visible()
    await asyncio.sleep(0.5)  # the console's websocket is subscribed

    first = sim.place_call(AHEAD, number)
    items = page.get_by_test_id("queue-item")
    await expect(items).to_have_count(1)
    caller = sim.place_call(CUSTOMER, number)
    await expect(items).to_have_count(2)
    await sim.until(lambda: caller.current == "Gather", within=15, what="the hold loop's offer")
    assert any("Press 1" in h for h in caller.heard)

    customer = await (await fx_new_context(base_url=server.url)).new_page()
    await customer.goto("/t/" + portal["url"].split("/t/", 1)[1])  # the link's path, on this test's server
    await expect(customer.get_by_test_id("portal-status")).to_be_visible()
    await expect(customer.get_by_test_id("portal-callback")).to_have_text("")
    await customer.evaluate("window.__noReload = true")

    await sim.press(caller.sid, "1")
    await sim.until(lambda: caller.status == "completed", within=15, what="the caller to hang up")
    second = items.nth(1)
    await expect(second.get_by_test_id("callback-badge")).to_be_visible()  # same place, now a callback
    await expect(second.get_by_test_id("call-back")).to_be_visible()
    await expect(items.nth(0).get_by_test_id("accept")).to_be_visible()
    await expect(customer.get_by_test_id("portal-callback")).to_have_text(
        "We will call you back, you are number 2.", timeout=15000)
    await sim.until(lambda: any(m.to == CUSTOMER for m in sim.messages.values()), within=15, what="the SMS")

    async with httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False) as api:
        waiting = (await api.get(f"/t/{shop.slug}/api/v1/conversations/waiting", headers=shop.auth)).json()
        took = await api.post(f"/t/{shop.slug}/api/v1/conversations/{waiting[0]['id']}/take", headers=shop.auth)
        assert took.status_code == 200, took.text
    await expect(customer.get_by_test_id("portal-callback")).to_have_text(
        "We will call you back, you are number 1.", timeout=15000)
    assert await customer.evaluate("window.__noReload") is True  # pushed over the portal's socket, not reloaded

    await expect(items).to_have_count(1)
    await items.nth(0).get_by_test_id("call-back").click()
    await expect(page.get_by_test_id("console-flash")).to_contain_text("You took the call")
    await sim.answer(OPERATOR_PHONE, within=15)
    customer_leg = await sim.answer(CUSTOMER, within=15)  # the operator is in: the simulator rings the customer
    assert customer_leg.from_ == number
    await expect(customer.get_by_test_id("portal-callback")).to_have_text("", timeout=15000)
    await sim.hangup(customer_leg.sid)
    await sim.hangup(first.sid)
