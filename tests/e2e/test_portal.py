"""The customer portal end to end: the shop emails the link from the order page, the customer opens it, the API
changes the status and the open page shows it without a reload; a customer message reaches the operator and the
reply reaches the portal live; a portal socket receives its own order's events only."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from typing import Any

import httpx
import pytest
from playwright.async_api import expect
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.conftest import LiveServer, Mailbox, NewContext

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


async def shop(server: LiveServer, prefix: str = "portal") -> dict[str, Any]:
    suffix = secrets.token_hex(3)
    body = {"shop_name": f"Bean Shop {suffix}", "slug": f"{prefix}_{suffix}", "email": f"owner-{suffix}@beans.example",
            "password": f"owner passphrase {suffix}", "owner_name": "Olive Owner"}
    async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=30) as client:
        resp = await client.post("/api/v1/signup", json=body)
        assert resp.status_code == 201, resp.text
    return {**body, "key": resp.json()["api_key"]}


async def call(server: LiveServer, s: dict[str, Any], method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=30) as client:
        resp = await client.request(method, f"/t/{s['slug']}/api/v1{path}", json=body,
                                    headers={"Authorization": f"Bearer {s['key']}"})
        assert resp.status_code < 300, resp.text
        return resp.json() if resp.content else None


async def new_order(server: LiveServer, s: dict[str, Any], number: str, email: str = "") -> dict[str, Any]:
    contact = await call(server, s, "POST", "/contacts", {"name": "Cleo Customer", "emails": [email] if email else []})
    return await call(server, s, "POST", "/orders", {
        "contact_id": contact["id"], "currency": "EUR", "number": number, "delivery_address": "Hauptstr. 1, Berlin",
        "items": [{"name": "Beans", "quantity": 2, "unit_price": 1250}]})


async def sign_in(page: Any, s: dict[str, Any]) -> None:
    await page.goto(f"/t/{s['slug']}/login")
    await page.get_by_label("Email").fill(s["email"])
    await page.get_by_label("Password").fill(s["password"])
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(rf"/t/{s['slug']}/"))


async def test_emailed_portal_link_shows_status_changes_live(fx_new_context: NewContext, fx_smtp: Mailbox,
                                                           fx_live_server: LiveServer) -> None:
    s = await shop(fx_live_server)
    customer_email = f"cleo-{secrets.token_hex(3)}@example.com"
    order = await new_order(fx_live_server, s, "E-1", customer_email)

    operator = await (await fx_new_context()).new_page()
    await sign_in(operator, s)
    await operator.goto(f"/t/{s['slug']}/orders/{order['id']}")
    await operator.get_by_test_id("issue-portal").click()
    await expect(operator.get_by_test_id("portal-url")).to_be_visible()
    await operator.get_by_role("button", name="Email link").click()
    await expect(operator.get_by_test_id("notice")).to_have_text("Portal link is being emailed.")
    mail = await fx_smtp.wait_for(to=customer_email)
    assert "E-1" in mail.subject
    link = mail.link("/portal/")

    customer = await (await fx_new_context(viewport={"width": 390, "height": 844}, is_mobile=True)).new_page()
    await customer.goto(link)
    await expect(customer.get_by_test_id("portal-status")).to_have_text("New")
    await expect(customer.get_by_test_id("portal-total")).to_have_text("€25.00")  # the en-US browser's format
    await customer.evaluate("window.__noReload = true")
    width = await customer.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the portal overflows a phone screen: {width}px"
    await asyncio.sleep(0.3)  # let the socket connect (a change before that is in its first render anyway)

    await call(fx_live_server, s, "POST", f"/orders/{order['id']}/status", {"status": "paid"})
    await expect(customer.get_by_test_id("portal-status")).to_have_text("Paid")
    await call(fx_live_server, s, "POST", f"/orders/{order['id']}/status", {"status": "packed"})
    await expect(customer.get_by_test_id("portal-status")).to_have_text("Packed")
    await expect(customer.get_by_test_id("portal-history")).to_contain_text("Paid")
    assert await customer.evaluate("window.__noReload === true")

    tl = await call(fx_live_server, s, "GET", f"/contacts/{order['contact_id']}/timeline?channel=email")
    assert any("tracking link emailed" in i["summary"] for i in tl["items"])

    await call(fx_live_server, s, "DELETE", f"/orders/{order['id']}/portal")
    resp = await customer.goto(link)
    assert resp is not None and resp.status == 404


async def test_customer_message_reaches_operator_and_reply_reaches_portal(fx_new_context: NewContext,
                                                                         fx_live_server: LiveServer) -> None:
    s = await shop(fx_live_server, "chat")
    order = await new_order(fx_live_server, s, "C-7")
    link = (await call(fx_live_server, s, "POST", f"/orders/{order['id']}/portal"))["url"]

    customer = await (await fx_new_context()).new_page()
    await customer.goto(link)
    await customer.evaluate("window.__noReload = true")
    await customer.get_by_test_id("portal-body").fill("Can you deliver after 6pm?")
    await customer.get_by_test_id("portal-send").click()
    await expect(customer.get_by_test_id("portal-message")).to_have_text(re.compile("Can you deliver after 6pm"))

    waiting = await call(fx_live_server, s, "GET", "/conversations/waiting")
    assert [w["channel"] for w in waiting] == ["chat"] and "Can you deliver after 6pm" in waiting[0]["subject"]

    operator = await (await fx_new_context()).new_page()
    await sign_in(operator, s)
    await operator.goto(f"/t/{s['slug']}/orders/{order['id']}")
    await expect(operator.get_by_test_id("order-message")).to_contain_text("Can you deliver after 6pm?")
    await operator.get_by_test_id("reply-body").fill("Yes, between 6 and 8pm.")
    await operator.get_by_test_id("send-reply").click()
    await expect(operator.get_by_test_id("notice")).to_have_text("Reply sent.")

    await expect(customer.get_by_test_id("portal-message")).to_have_count(2)
    await expect(customer.get_by_test_id("portal-message").nth(1)).to_contain_text("Yes, between 6 and 8pm.")
    assert await customer.evaluate("window.__noReload === true")

    await operator.goto(f"/t/{s['slug']}/contacts/{order['contact_id']}")
    await expect(operator.get_by_test_id("timeline")).to_contain_text("Can you deliver after 6pm")
    await expect(operator.get_by_test_id("orders-panel")).to_contain_text("C-7")


async def _frames(ws: Any, into: list[str]) -> None:
    with contextlib.suppress(Exception):
        async for frame in ws:
            into.append(frame if isinstance(frame, str) else frame.decode())


async def test_portal_socket_receives_only_its_own_order(fx_live_server: LiveServer) -> None:
    a = await shop(fx_live_server, "sock")
    b = await shop(fx_live_server, "sock")
    mine = await new_order(fx_live_server, a, "MINE-1")
    sibling = await new_order(fx_live_server, a, "SIBLING-2")
    foreign = await new_order(fx_live_server, b, "FOREIGN-3")
    assert foreign["id"] == mine["id"]  # the same id in another shop's schema
    link = (await call(fx_live_server, a, "POST", f"/orders/{mine['id']}/portal"))["url"]
    ws_url = link.replace("http://", "ws://") + "/ws"

    with pytest.raises(InvalidStatus):
        async with connect(ws_url[:-4] + "x/ws", origin=fx_live_server.url):
            pass
    with pytest.raises(InvalidStatus):  # the token is only valid in its own shop
        async with connect(ws_url.replace(f"/t/{a['slug']}/", f"/t/{b['slug']}/"),
                                      origin=fx_live_server.url):
            pass

    frames: list[str] = []
    async with connect(ws_url, origin=fx_live_server.url) as ws:
        reader = asyncio.create_task(_frames(ws, frames))
        for _ in range(50):
            if frames:
                break
            await asyncio.sleep(0.05)
        assert len(frames) == 1 and 'data-status="new"' in frames[0]
        # Nothing below but the sentinel turns an order "paid", so a leaked frame cannot pass for it.
        await call(fx_live_server, a, "POST", f"/orders/{sibling['id']}/status", {"status": "cancelled"})
        await call(fx_live_server, a, "POST", f"/orders/{sibling['id']}/portal")
        await call(fx_live_server, b, "POST", f"/orders/{foreign['id']}/status", {"status": "cancelled"})
        await call(fx_live_server, b, "POST", f"/orders/{foreign['id']}/payments", {"amount": 100})
        # The sentinel: this order's own change, made after all the others, must be the next frame.
        await call(fx_live_server, a, "POST", f"/orders/{mine['id']}/status", {"status": "paid"})
        for _ in range(200):
            if any('data-status="paid"' in f for f in frames):
                break
            await asyncio.sleep(0.05)
        reader.cancel()
    assert any('data-status="paid"' in f for f in frames), f"the order's own change never arrived: {frames}"
    assert len(frames) == 2 and 'data-status="paid"' in frames[1], frames[1:]
    for frame in frames:
        assert "SIBLING-2" not in frame and "FOREIGN-3" not in frame and "cancelled" not in frame.lower()
