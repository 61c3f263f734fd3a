"""Email in the console and on the card: the latest customer email in "My conversations", a threaded reply from
there (real SMTP both ways), the compose page answering a given email, and live updates through the hub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest

from app.accounts.services import create_session
from app.email import listener
from app.email.tables import EmailMessage as EmailRow
from app.lib.db import tenant_context
from app.settings import get_settings
from tests.conftest import ShopFixture, browser_login, csrf_from, free_port, run_jobs_until
from tests.integration.email_kit import Mailbox, configure, smtp_server
from tests.servers import ConsoleSocket, InProcessServer

ORIGIN = "http://testserver.local"
HTML = {"accept": "text/html"}


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


@pytest.fixture
async def fx_listener() -> AsyncIterator[int]:
    """Our inbound SMTP listener on a free loopback port."""
    port = free_port()
    server = await listener.start("127.0.0.1", port)
    yield port
    server.close()
    await server.wait_closed()


def mail(shop: ShopFixture, subject: str, body: str, message_id: str, in_reply_to: str = "") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Kate Cole <kate@customer.example>"
    msg["To"] = f"{shop.slug}@{get_settings().mail.mail_domain}"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
        msg["References"] = f"<{in_reply_to}>"
    msg.set_content(body)
    return msg


async def receive(port: int, shop: ShopFixture, msg: EmailMessage) -> dict[str, Any]:
    """A real SMTP session against the listener, then the processing job: the stored inbound email."""
    await aiosmtplib.send(msg, hostname="127.0.0.1", port=port, sender="kate@customer.example",
                          recipients=[str(msg["To"])])

    async def stored() -> bool:
        async with tenant_context(shop.tenant):
            return await EmailRow.exists().where(EmailRow.message_id == str(msg["Message-ID"]).strip("<>"))

    await run_jobs_until(stored)
    async with tenant_context(shop.tenant):
        row = await EmailRow.select().where(EmailRow.message_id == str(msg["Message-ID"]).strip("<>")).first()
    assert row is not None
    return row


async def test_reply_from_my_conversations_is_threaded_and_sent(fx_client: Any, fx_shop: ShopFixture,
                                                                fx_listener: int) -> None:
    box = Mailbox()
    server = smtp_server(box)
    server.start()
    try:
        await configure(fx_client, fx_shop, server.port)
        await fx_client.post(api(fx_shop, "/email-templates"), headers=fx_shop.auth,
                             json={"kind": "canned", "name": "Sorry", "shortcut": "sorry", "body": "Sorry!"})
        first = await receive(fx_listener, fx_shop, mail(fx_shop, "Broken teapot", "The lid is cracked.\nHelp!",
                                                         "teapot-1@customer.example"))
        await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
        token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/console/")
        took = await fx_client.post(f"/t/{fx_shop.slug}/console/take/{first['conversation']}",
                                    headers={"X-CSRF-Token": token})
        assert "You took the email" in took.text

        page = await fx_client.get(f"/t/{fx_shop.slug}/console/", headers=HTML)
        mine = page.text.split('id="console-mine"')[1]
        assert 'data-testid="console-email"' in mine and "Broken teapot" in mine and "The lid is cracked." in mine
        assert f'data-contact-id="{first["contact"]}"' in mine and "data-canned" in mine  # canned in this box
        assert f'/contacts/{first["contact"]}/email/?reply_to={first["id"]}' in mine

        sent = await fx_client.post(f"/t/{fx_shop.slug}/console/email/{first['conversation']}/reply",
                                    headers={"X-CSRF-Token": token}, data={"body": "A new lid is on its way."})
        assert sent.status_code == 200 and "queued to kate@customer.example" in sent.text, sent.text

        async def delivered() -> bool:
            return bool(box.messages)

        await run_jobs_until(delivered)
        [out] = box.messages
        assert out["To"] == "kate@customer.example" and out["Subject"] == "Re: Broken teapot"
        assert out["In-Reply-To"] == "<teapot-1@customer.example>"
        assert "<teapot-1@customer.example>" in out["References"]
        assert "A new lid is on its way." in out.get_body(preferencelist=("plain",)).get_content()
        async with tenant_context(fx_shop.tenant):
            reply_row = await EmailRow.select().where(EmailRow.direction == "out").first()
        assert reply_row["conversation"] == first["conversation"] and reply_row["sent_by"] == fx_shop.user_id

        # The customer answers the reply: it lands in the same conversation, and the console shows it as latest.
        second = await receive(fx_listener, fx_shop, mail(fx_shop, "Re: Broken teapot", "Thanks, got it.",
                                                          "teapot-2@customer.example",
                                                          in_reply_to=str(out["Message-ID"]).strip("<>")))
        assert second["conversation"] == first["conversation"]
        panel = await fx_client.get(f"/t/{fx_shop.slug}/console/panels/mine", headers=HTML)
        assert "Thanks, got it." in panel.text and "The lid is cracked." not in panel.text

        # Bad input is a clear 4xx fragment, not a 500.
        empty = await fx_client.post(f"/t/{fx_shop.slug}/console/email/{first['conversation']}/reply",
                                     headers={"X-CSRF-Token": token}, data={"body": "  "})
        assert empty.status_code == 400 and "body" in empty.text
        unknown = await fx_client.post(f"/t/{fx_shop.slug}/console/email/999999/reply",
                                       headers={"X-CSRF-Token": token}, data={"body": "Hello"})
        assert unknown.status_code == 404
    finally:
        server.stop()


async def test_card_has_an_email_action_and_compose_answers_a_given_email(fx_client: Any, fx_shop: ShopFixture,
                                                                          fx_listener: int) -> None:
    box = Mailbox()
    server = smtp_server(box)
    server.start()
    try:
        await configure(fx_client, fx_shop, server.port)
        first = await receive(fx_listener, fx_shop, mail(fx_shop, "Where is my order?", "Order 1042 is late.",
                                                         "order-1042@customer.example"))
        await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
        card = await fx_client.get(f"/t/{fx_shop.slug}/contacts/{first['contact']}", headers=HTML)
        assert f'href="/t/{fx_shop.slug}/contacts/{first["contact"]}/email/"' in card.text
        compose_url = f"/t/{fx_shop.slug}/contacts/{first['contact']}/email/"
        page = await fx_client.get(f"{compose_url}?reply_to={first['id']}", headers=HTML)
        assert f'name="reply_to" value="{first["id"]}"' in page.text and "Order 1042 is late." in page.text
        assert f'data-contact-id="{first["contact"]}"' in page.text and 'data-canned="true"' in page.text
        token = await csrf_from(fx_client, compose_url)
        resp = await fx_client.post(compose_url, headers=HTML, data={
            "_csrf": token, "reply_to": str(first["id"]), "to": "", "subject": "", "body": "It ships today."})
        assert resp.status_code == 200 and "Queued for sending." in resp.text, resp.text

        async def delivered() -> bool:
            return bool(box.messages)

        await run_jobs_until(delivered)
        [out] = box.messages
        assert out["In-Reply-To"] == "<order-1042@customer.example>" and out["Subject"] == "Re: Where is my order?"
    finally:
        server.stop()


# -- live: an inbound email reaches open consoles and cards through the hub ------------------------------------------

@pytest.mark.xdist_group("realtime")
async def test_inbound_email_updates_open_consoles_and_cards_live(fx_live: InProcessServer, fx_client: Any,
                                                                  fx_shop: ShopFixture, fx_listener: int) -> None:
    async with tenant_context(fx_shop.tenant):
        token, _ = await create_session(fx_shop.user_id)
    console = await ConsoleSocket.open(fx_live.ws_url, fx_shop.slug, token, ORIGIN)
    await console.ready()

    # A new customer writes: the console's queue shows the new conversation.
    first_msg = mail(fx_shop, "Broken teapot", "The lid is cracked.", "live-1@customer.example")
    await aiosmtplib.send(first_msg, hostname="127.0.0.1", port=fx_listener, sender="kate@customer.example",
                          recipients=[str(first_msg["To"])])
    frames_task = asyncio.create_task(console.until(
        lambda f: f.event == "message.received" and "Broken teapot" in f.text, wait=10))

    async def first_stored() -> bool:
        async with tenant_context(fx_shop.tenant):
            return await EmailRow.exists().where(EmailRow.message_id == "live-1@customer.example")

    await run_jobs_until(first_stored)
    frames = await frames_task
    queued = next(f for f in frames if f.event == "queue.item_added")
    assert "Broken teapot" in queued.text.split('id="console-mine"')[0]  # in the queue panel
    async with tenant_context(fx_shop.tenant):
        first = await EmailRow.select().where(EmailRow.message_id == "live-1@customer.example").first()
    took = await fx_client.post(api(fx_shop, f"/conversations/{first['conversation']}/take"), headers=fx_shop.auth)
    assert took.status_code == 200
    await console.until(lambda f: f.event == "queue.item_taken")

    # The card of that contact is open somewhere.
    card = await ConsoleSocket.open(fx_live.ws_url, fx_shop.slug, token, ORIGIN)
    await card.ready()
    await card.send({"watch": f"contact:{first['contact']}"})
    await asyncio.sleep(0.2)

    # The customer answers in the thread: no queue event, yet the console and the card follow.
    reply = mail(fx_shop, "Re: Broken teapot", "Also the spout leaks.", "live-2@customer.example",
                 in_reply_to="live-1@customer.example")
    await aiosmtplib.send(reply, hostname="127.0.0.1", port=fx_listener, sender="kate@customer.example",
                          recipients=[str(reply["To"])])
    console_task = asyncio.create_task(console.until(lambda f: f.event == "message.received", wait=10))
    card_task = asyncio.create_task(card.until(
        lambda f: f.event == "interaction.created" and 'id="timeline-items"' in f.text, wait=10))

    async def second_stored() -> bool:
        async with tenant_context(fx_shop.tenant):
            return await EmailRow.exists().where(EmailRow.message_id == "live-2@customer.example")

    await run_jobs_until(second_stored)
    console_frames, card_frames = await console_task, await card_task
    pushed = console_frames[-1]
    assert not any(f.event and f.event.startswith("queue.") for f in console_frames)
    mine = pushed.text.split('id="console-mine"')[1]
    assert 'hx-swap-oob="true"' in mine.split(">")[0] and "Also the spout leaks." in mine
    assert pushed.payload["channel"] == "email" and pushed.payload["conversation_id"] == first["conversation"]
    timeline = card_frames[-1].text.split('id="timeline-items"')[1]
    assert "Re: Broken teapot" in timeline
    for sock in (console, card):
        await sock.close()


async def test_a_burst_from_a_new_sender_makes_one_contact(fx_client: Any, fx_shop: ShopFixture,
                                                          fx_listener: int) -> None:
    """The job worker processes mails in parallel; mails of one new sender must still find one contact."""
    for i in range(8):
        msg = mail(fx_shop, f"Question {i}", "Hello?", f"burst-{i}@customer.example")
        await aiosmtplib.send(msg, hostname="127.0.0.1", port=fx_listener, sender="kate@customer.example",
                              recipients=[str(msg["To"])])

    async def all_stored() -> bool:
        async with tenant_context(fx_shop.tenant):
            return await EmailRow.count().where(EmailRow.direction == "in") == 8

    await run_jobs_until(all_stored)
    found = (await fx_client.get(api(fx_shop, "/contacts?q=kate@customer.example"), headers=fx_shop.auth)).json()
    assert [c["name"] for c in found["items"]] == ["Kate Cole"]
