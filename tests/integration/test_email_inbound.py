"""Inbound email through real SMTP sessions against our listener: routing, limits, MIME, charsets, threading."""

from __future__ import annotations

import asyncio
import base64
import quopri
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import asyncpg
import pytest

from app.email import listener
from app.email.tables import EmailMessage as EmailRow
from app.email.tables import InboundMail
from app.lib.db import tenant_context
from app.lib.storage import get_storage
from app.settings import get_settings
from app.timeline.tables import Interaction
from tests.conftest import TEST_DSN, ShopFixture, free_port, run_jobs_until
from tests.integration.email_kit import Mailbox, configure, smtp_server


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


@pytest.fixture
async def fx_mail_in(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[int]:
    """Our inbound listener on a free loopback port, with a 64 KiB size limit for the test."""
    monkeypatch.setenv("MAIL_IN_MAX_BYTES", str(64 * 1024))
    get_settings.cache_clear()
    port = free_port()
    server = await listener.start("127.0.0.1", port)
    yield port
    server.close()
    await server.wait_closed()
    monkeypatch.undo()
    get_settings.cache_clear()


def address(shop: ShopFixture) -> str:
    return f"{shop.slug}@{get_settings().mail.mail_domain}"


async def deliver(port: int, raw: bytes | EmailMessage, sender: str, recipients: list[str]) -> Any:
    return await aiosmtplib.send(raw, hostname="127.0.0.1", port=port, sender=sender, recipients=recipients)


async def inbound_rows(shop: ShopFixture) -> list[dict[str, Any]]:
    async with tenant_context(shop.tenant):
        return await EmailRow.select().where(EmailRow.direction == "in").order_by(EmailRow.id).output(load_json=True)


async def process_all(shop: ShopFixture, count: int) -> list[dict[str, Any]]:
    async def done() -> bool:
        return len(await inbound_rows(shop)) >= count

    await run_jobs_until(done)
    return await inbound_rows(shop)


async def waiting(client: Any, shop: ShopFixture) -> list[dict[str, Any]]:
    return (await client.get(api(shop, "/conversations/waiting"), headers=shop.auth)).json()


async def test_multipart_qp_mail_from_unknown_sender_creates_contact_and_queue_item(
        fx_client: Any, fx_shop: ShopFixture, fx_mail_in: int) -> None:
    msg = EmailMessage()
    msg["From"] = "Jürgen Müller <Juergen@Customer.example>"
    msg["To"] = address(fx_shop)
    msg["Subject"] = "Bestellung 1042 - Rückfrage"
    msg["Message-ID"] = "<first-1042@customer.example>"
    msg.set_content("Grüße! Wo bleibt meine Bestellung?\n" + "lange Zeile " * 20, cte="quoted-printable")
    msg.add_alternative("<p>Grüße! <b>Wo</b> bleibt meine Bestellung?</p>", subtype="html")
    msg.add_attachment(b"\x89PNG fake image bytes", maintype="image", subtype="png", filename="photo.png")
    assert b"quoted-printable" in msg.as_bytes()
    await deliver(fx_mail_in, msg, "juergen@customer.example", [address(fx_shop)])
    async with tenant_context(fx_shop.tenant):
        [stored] = await InboundMail.select()
    # Kept exactly as received, for inspection, before any parsing.
    assert stored["rcpt_to"] == address(fx_shop) and stored["mail_from"] == "juergen@customer.example"
    assert b"<first-1042@customer.example>" in bytes(stored["content"]) and stored["size"] == len(bytes(stored["content"]))
    [row] = await process_all(fx_shop, 1)
    assert row["text"].startswith("Grüße! Wo bleibt meine Bestellung?")
    assert row["subject"] == "Bestellung 1042 - Rückfrage"
    [att] = row["attachments"]
    assert att["filename"] == "photo.png"
    async with tenant_context(fx_shop.tenant):
        assert await get_storage().read_all(att["key"]) == b"\x89PNG fake image bytes"
    contact = (await fx_client.get(api(fx_shop, f"/contacts/{row['contact']}"), headers=fx_shop.auth)).json()
    assert contact["emails"] == ["juergen@customer.example"] and contact["name"] == "Jürgen Müller"
    [item] = [w for w in await waiting(fx_client, fx_shop) if w["contact_id"] == row["contact"]]
    assert item["channel"] == "email" and item["id"] == row["conversation"]
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{row['contact']}/timeline"), headers=fx_shop.auth)).json()
    entry = next(i for i in timeline["items"] if i["payload"].get("event") == "email")
    assert entry["direction"] == "in" and entry["payload"]["attachments"] == ["photo.png"]


def _raw(shop: ShopFixture, charset: str, cte: str, text: str, subject_word: str, sender: str) -> bytes:
    body = text.encode(charset)
    encoded = quopri.encodestring(body) if cte == "quoted-printable" else base64.encodebytes(body)
    subject = "=?" + charset + "?B?" + base64.b64encode(subject_word.encode(charset)).decode() + "?="
    return (f"From: {sender}\r\nTo: {address(shop)}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{charset}-{cte}@customer.example>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n").encode() + \
        encoded.replace(b"\n", b"\r\n")


async def test_cp1251_and_koi8r_bodies_are_decoded(fx_client: Any, fx_shop: ShopFixture, fx_mail_in: int) -> None:
    text = "Здравствуйте! Где мой заказ 17? Ёлка, щука, ъ."
    await deliver(fx_mail_in, _raw(fx_shop, "windows-1251", "base64", text, "Заказ", "ivan@customer.example"),
                  "ivan@customer.example", [address(fx_shop)])
    await deliver(fx_mail_in, _raw(fx_shop, "koi8-r", "quoted-printable", text, "Вопрос", "olga@customer.example"),
                  "olga@customer.example", [address(fx_shop)])
    rows = await process_all(fx_shop, 2)
    by_sender = {r["from_address"]: r for r in rows}
    assert by_sender["ivan@customer.example"]["text"].strip() == text
    assert by_sender["ivan@customer.example"]["subject"] == "Заказ"
    assert by_sender["olga@customer.example"]["text"].strip() == text
    assert by_sender["olga@customer.example"]["subject"] == "Вопрос"


async def test_reply_to_an_outbound_email_threads_into_its_conversation(
        fx_client: Any, fx_shop: ShopFixture, fx_mail_in: int) -> None:
    box = Mailbox()
    smtp = smtp_server(box)
    smtp.start()
    try:
        await configure(fx_client, fx_shop, smtp.port)
        first = EmailMessage()
        first["From"], first["To"], first["Subject"] = "kate@customer.example", address(fx_shop), "Broken teapot"
        first["Message-ID"] = "<teapot-1@customer.example>"
        first.set_content("The lid is cracked.")
        await deliver(fx_mail_in, first, "kate@customer.example", [address(fx_shop)])
        [inbound] = await process_all(fx_shop, 1)
        answer = await fx_client.post(api(fx_shop, f"/contacts/{inbound['contact']}/emails"), headers=fx_shop.auth,
                                      json={"reply_to": inbound["id"], "body": "Sorry! A new one is on its way."})
        assert answer.status_code == 201 and answer.json()["conversation_id"] == inbound["conversation"]

        async def sent() -> bool:
            return bool(box.messages)

        await run_jobs_until(sent)
        out = box.messages[0]
        assert out["In-Reply-To"] == "<teapot-1@customer.example>"
        # The customer answers from a mail client that keeps the threading headers.
        reply = EmailMessage()
        reply["From"], reply["To"], reply["Subject"] = "kate@customer.example", out["Reply-To"], "Re: Broken teapot"
        reply["In-Reply-To"] = out["Message-ID"]
        reply["References"] = f"<teapot-1@customer.example> {out['Message-ID']}"
        reply["Message-ID"] = "<teapot-2@customer.example>"
        reply.set_content("Thank you!\n\n> Sorry! A new one is on its way.")
        await deliver(fx_mail_in, reply, "kate@customer.example", [out["Reply-To"]])
        # And one that drops the headers: the reply token in the Reply-To address still threads it.
        bare = EmailMessage()
        bare["From"], bare["To"], bare["Subject"] = "kate@customer.example", out["Reply-To"], "and another thing"
        bare["Message-ID"] = "<teapot-3@customer.example>"
        bare.set_content("The saucer too.")
        await deliver(fx_mail_in, bare, "kate@customer.example", [out["Reply-To"]])
        rows = await process_all(fx_shop, 3)
        assert {r["conversation"] for r in rows} == {inbound["conversation"]}
        assert {r["contact"] for r in rows} == {inbound["contact"]}
        mine = [w for w in await waiting(fx_client, fx_shop) if w["contact_id"] == inbound["contact"]]
        assert len(mine) == 1  # one conversation, not three
    finally:
        smtp.stop()


async def test_unroutable_oversize_and_malformed_mail_is_refused(
        fx_client: Any, fx_shop: ShopFixture, fx_mail_in: int) -> None:
    ok = EmailMessage()
    ok["From"], ok["Subject"] = "x@customer.example", "hi"
    ok.set_content("hello")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as unknown:
        await deliver(fx_mail_in, ok, "x@customer.example", [f"no_such_shop@{get_settings().mail.mail_domain}"])
    assert unknown.value.recipients[0].code == 550
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as foreign:
        await deliver(fx_mail_in, ok, "x@customer.example", [f"{fx_shop.slug}@elsewhere.example"])
    assert foreign.value.recipients[0].code == 550
    big = EmailMessage()
    big["From"], big["To"], big["Subject"] = "x@customer.example", address(fx_shop), "big"
    big.set_content("x" * 100)
    big.add_attachment(b"\0" * (100 * 1024), maintype="application", subtype="octet-stream", filename="big.bin")
    with pytest.raises(aiosmtplib.SMTPResponseException) as oversize:
        await deliver(fx_mail_in, big, "x@customer.example", [address(fx_shop)])
    assert oversize.value.code == 552
    with pytest.raises(aiosmtplib.SMTPResponseException) as malformed:
        await deliver(fx_mail_in, b"Subject: no sender\r\n\r\nhello\r\n", "x@customer.example", [address(fx_shop)])
    assert malformed.value.code == 550
    async with tenant_context(fx_shop.tenant):
        assert await InboundMail.count() == 0


async def test_mail_to_a_shop_lands_only_in_that_shop(fx_client: Any, fx_shop: ShopFixture,
                                                      fx_other_shop: ShopFixture, fx_mail_in: int) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "lena@customer.example", address(fx_other_shop), "For shop B"
    msg["Message-ID"] = "<for-b@customer.example>"
    msg.set_content("Only B should see this.")
    await deliver(fx_mail_in, msg, "lena@customer.example", [address(fx_other_shop)])
    [row] = await process_all(fx_other_shop, 1)
    assert row["subject"] == "For shop B"
    assert await inbound_rows(fx_shop) == []
    found = (await fx_client.get(api(fx_shop, "/contacts?q=lena"), headers=fx_shop.auth)).json()
    assert (found["items"] if isinstance(found, dict) else found) == []
    async with tenant_context(fx_shop.tenant):
        assert await InboundMail.count() == 0


def _mail(to: list[str], message_id: str, subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Olga <olga@customer.example>", ", ".join(to), subject
    msg["Message-ID"] = f"<{message_id}>"
    msg.set_content("Where is my order?")
    return msg


async def _email_items(shop: ShopFixture, message_id: str) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    """How many raw copies the shop kept of `message_id`, its email rows, and their timeline items."""
    async with tenant_context(shop.tenant):
        stored = await InboundMail.select(InboundMail.content)
        rows = await EmailRow.select().where((EmailRow.message_id == message_id) & (EmailRow.direction == "in"))
        items = await Interaction.select().where(Interaction.channel == "email").output(load_json=True)
    raw = sum(f"<{message_id}>".encode() in bytes(r["content"]) for r in stored)
    ids = {r["id"] for r in rows}
    return raw, rows, [i for i in items if i["links"].get("email_id") in ids]


async def _after_sentinel(port: int, shop: ShopFixture) -> None:
    """Deliver a last, different mail and process jobs until it is filed: whatever the first mail caused is done."""
    await deliver(port, _mail([address(shop)], f"sentinel-{shop.slug}@customer.example", "Sentinel"),
                  "olga@customer.example", [address(shop)])

    async def filed() -> bool:
        async with tenant_context(shop.tenant):
            return await EmailRow.exists().where(EmailRow.message_id == f"sentinel-{shop.slug}@customer.example")

    await run_jobs_until(filed, timeout=30)


async def test_same_message_over_two_sessions_at_once_is_stored_once(fx_shop: ShopFixture, fx_mail_in: int) -> None:
    """Two SMTP sessions deliver one Message-ID at the same moment: both get 250, the shop keeps one copy, one
    email, one timeline item. The inserts are made to meet: a lock on the table holds both until each waits."""
    message_id = "twice-at-once@customer.example"
    table = f'"{fx_shop.tenant.schema}".inbound_mail'
    conn = await asyncpg.connect(TEST_DSN)
    try:
        lock = conn.transaction()
        await lock.start()
        await conn.execute(f"LOCK TABLE {table} IN SHARE MODE")
        sessions = [asyncio.create_task(deliver(fx_mail_in, _mail([address(fx_shop)], message_id, "Order 7"),
                                                "olga@customer.example", [address(fx_shop)])) for _ in range(2)]
        for _ in range(600):
            waiting_inserts = await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE relation = $1::regclass AND NOT granted", table)
            if waiting_inserts == 2:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"the two sessions never reached the insert together ({waiting_inserts} waiting)")
        await lock.rollback()
    finally:
        await conn.close()
    answers = await asyncio.gather(*sessions)
    assert [answer[1] for answer in answers] == ["2.0.0 Message accepted"] * 2

    await _after_sentinel(fx_mail_in, fx_shop)
    raw, rows, items = await _email_items(fx_shop, message_id)
    assert raw == 1 and len(rows) == 1 and len(items) == 1
    assert rows[0]["subject"] == "Order 7" and items[0]["direction"] == "in"


async def test_same_message_to_two_shops_is_stored_once_in_each(fx_shop: ShopFixture, fx_other_shop: ShopFixture,
                                                                fx_mail_in: int) -> None:
    message_id = "to-both-shops@customer.example"
    both = [address(fx_shop), address(fx_other_shop)]
    sends = [([address(fx_shop)]), ([address(fx_shop)]), ([address(fx_other_shop)]), ([address(fx_other_shop)]), both]
    answers = await asyncio.gather(*(deliver(fx_mail_in, _mail(to, message_id, "Both shops"),
                                             "olga@customer.example", to) for to in sends))
    assert all(answer[1] == "2.0.0 Message accepted" for answer in answers)
    for shop in (fx_shop, fx_other_shop):
        await _after_sentinel(fx_mail_in, shop)
        raw, rows, items = await _email_items(shop, message_id)
        assert raw == 1 and len(rows) == 1 and len(items) == 1, shop.slug
        assert rows[0]["to_address"] == address(shop)
