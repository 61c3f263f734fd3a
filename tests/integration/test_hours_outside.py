"""Chats and emails that arrive while their queue's calendar is closed: exactly one automatic reply per
conversation and closed period, in the contact's language, on the timeline; the item still waits in the queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import pytest

from app.email import listener
from app.email.tables import EmailMessage as EmailRow
from app.hours.tables import AutoReplySent
from app.lib.db import tenant_context
from tests.conftest import ShopFixture, free_port, run_jobs_until, work_left
from tests.integration.email_kit import Mailbox, configure, smtp_server
from tests.integration.test_chat import SITE, allow, say, start
from tests.integration.test_email_inbound import address, deliver
from tests.integration.test_hours_api import api, general_queue
from tests.integration.test_hours_calls import SOON_CLOSED


@pytest.fixture
async def fx_mail_in() -> AsyncIterator[int]:
    """Our inbound SMTP listener on a free loopback port."""
    port = free_port()
    server = await listener.start("127.0.0.1", port)
    yield port
    server.close()
    await server.wait_closed()


async def close_general(client: Any, shop: ShopFixture, **setting: Any) -> int:
    cal = await client.post(api(shop, "/calendars"), json={"name": "Closed now", "zone": "Europe/Sofia",
                                                          "weekly": SOON_CLOSED}, headers=shop.auth)
    assert cal.status_code == 201, cal.text
    queue_id = await general_queue(client, shop)
    linked = await client.put(api(shop, f"/queue-hours/{queue_id}"), json={"calendar_id": cal.json()["id"], **setting},
                              headers=shop.auth)
    assert linked.status_code == 200, linked.text
    return queue_id


async def contact(client: Any, shop: ShopFixture, email: str, language: str) -> int:
    made = await client.post(api(shop, "/contacts"), json={"name": "Customer", "emails": [email],
                                                           "language": language}, headers=shop.auth)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def replies(shop: ShopFixture) -> list[dict[str, Any]]:
    async with tenant_context(shop.tenant):
        return await AutoReplySent.select()


async def settled(shop: ShopFixture) -> bool:
    """Everything the messages set in motion has run (the queue's timer for its next opening waits days ahead)."""
    return not [w for w in await work_left(shop.tenant) if w != "1 jobs" or not await _only_hours_timer(shop)]


async def _only_hours_timer(shop: ShopFixture) -> bool:
    from app.piccolo_conf import DB

    async with DB.pool.acquire() as conn:
        names = await conn.fetch("SELECT entrypoint FROM public.pgqueuer WHERE status IN ('queued', 'picked') "
                                 "AND convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1", shop.tenant.slug)
    return [n["entrypoint"] for n in names] == ["hours.tick"]


async def test_chat_while_closed_gets_one_reply_in_the_contacts_language(fx_client: Any, fx_shop: ShopFixture) -> None:
    await close_general(fx_client, fx_shop)
    await allow(fx_client, fx_shop, SITE)
    contact_id = await contact(fx_client, fx_shop, "olga@example.com", "ru")
    session = await start(fx_client, fx_shop, email="olga@example.com")
    for text in ("Здравствуйте!", "Где мой заказ?"):
        assert (await say(fx_client, fx_shop, session["token"], text)).status_code == 201

    async def one_reply_and_quiet() -> bool:
        return len(await replies(fx_shop)) == 1 and await settled(fx_shop)

    await run_jobs_until(one_reply_and_quiet)
    seen = (await fx_client.get(f"/t/{fx_shop.slug}/chat/messages",
                                headers={"Origin": SITE, "X-Chat-Token": session["token"]})).json()
    messages = seen["messages"] if isinstance(seen, dict) else seen
    auto = [m for m in messages if m["direction"] == "out"]
    assert len(auto) == 1 and "Сейчас мы закрыты" in auto[0]["body"], auto
    waiting = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=fx_shop.auth)).json()
    [item] = [w for w in waiting if w["channel"] == "chat"]
    assert item["contact_id"] == contact_id and item["status"] == "waiting"
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{contact_id}/timeline"), headers=fx_shop.auth)).json()
    assert [i for i in timeline["items"] if i["payload"].get("event") == "auto_reply"][0]["payload"]["language"] == "ru"


async def test_email_while_closed_gets_one_reply_in_the_contacts_language(fx_client: Any, fx_shop: ShopFixture,
                                                                          fx_mail_in: int) -> None:
    await close_general(fx_client, fx_shop)
    box = Mailbox()
    smtp = smtp_server(box)
    smtp.start()
    try:
        await configure(fx_client, fx_shop, smtp.port)
        contact_id = await contact(fx_client, fx_shop, "boris@example.com", "bg")
        for n in (1, 2):
            msg = EmailMessage()
            msg["From"] = "Boris <boris@example.com>"
            msg["To"] = address(fx_shop)
            msg["Subject"] = "Поръчка 77"
            msg["Message-ID"] = f"<order-77-{n}@example.com>"
            if n == 2:
                msg["In-Reply-To"] = "<order-77-1@example.com>"
            msg.set_content(f"Здравейте, писмо {n}")
            await deliver(fx_mail_in, msg, "boris@example.com", [address(fx_shop)])

        async def sent_and_quiet() -> bool:
            async with tenant_context(fx_shop.tenant):
                inbound = await EmailRow.count().where(EmailRow.direction == "in")
            return inbound == 2 and len(box.messages) >= 1 and await settled(fx_shop)

        await run_jobs_until(sent_and_quiet, timeout=20)
    finally:
        smtp.stop()
    assert len(box.messages) == 1 and len(await replies(fx_shop)) == 1
    reply = box.messages[0]
    assert reply["To"] == "boris@example.com" and reply["Subject"] == "Re: Поръчка 77"
    assert "момента не работим" in reply.get_body(("plain",)).get_content()
    waiting = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=fx_shop.auth)).json()
    assert [w["contact_id"] for w in waiting if w["channel"] == "email"] == [contact_id]
