"""A contact seeded with every kind of data the privacy features cover, each holding a value unique to the run, so
an export can be checked for each and an erasure can be checked to leave none of them anywhere."""

from __future__ import annotations

import dataclasses
import json
import secrets
from typing import Any

from app.lib.db import current_uow, tenant_context
from app.lib.storage import get_storage
from tests.conftest import ShopFixture
from tests.integration.test_orders import api, make_contact, order_body


async def _chunks(data: bytes) -> Any:
    yield data


@dataclasses.dataclass
class Seeded:
    contact_id: int
    order_id: int
    values: dict[str, str]
    """What each value is -> the value (all personal: none may survive an erasure)."""
    keys: dict[str, str]
    """Storage keys: file, recording, attachment."""
    blobs: dict[str, bytes]


async def seed_everything(client: Any, shop: ShopFixture) -> Seeded:
    tag = secrets.token_hex(4)
    digits = str(int(tag, 16) % 10_000).rjust(4, "0")
    v = {
        "name": f"Zelda Quixote {tag}",
        "phone": f"+1415555{digits}",
        "email": f"zelda.{tag}@example.org",
        "address": f"77 Erasure Lane {tag}",
        "custom": f"Allergic to peanuts {tag}",
        "note": f"Prefers calls after six {tag}",
        "sms": f"Where is my parcel {tag}",
        "email_subject": f"Refund question {tag}",
        "email_body": f"Please refund order to card ending {tag}",
        "chat": f"Hello from the chat widget {tag}",
        "delivery": f"12 Delivery Road {tag}",
        "consent_evidence": f"Signed form at the shop counter {tag}",
    }
    field = await client.post(api(shop, "/custom-fields"), json={"key": f"health_{tag}", "label": "Health",
                                                                 "kind": "text"}, headers=shop.auth)
    assert field.status_code == 201, field.text
    c = await make_contact(client, shop, name=v["name"], phones=[v["phone"]], emails=[v["email"]],
                           address=v["address"], custom={f"health_{tag}": v["custom"]})
    cid = c["id"]
    note = await client.post(api(shop, f"/contacts/{cid}/notes"), json={"body": v["note"]}, headers=shop.auth)
    assert note.status_code == 201, note.text
    file_bytes = f"scan of passport {tag}".encode()
    up = await client.post(api(shop, f"/contacts/{cid}/files"), files={"file": ("passport.txt", file_bytes,
                                                                                 "text/plain")}, headers=shop.auth)
    assert up.status_code == 201, up.text
    order = await client.post(api(shop, "/orders"), json=order_body(cid, delivery_address=v["delivery"]),
                              headers=shop.auth)
    assert order.status_code == 201, order.text
    oid = order.json()["id"]
    paid = await client.post(api(shop, f"/orders/{oid}/payments"), json={"amount": 1500, "method": "card"},
                             headers=shop.auth)
    assert paid.status_code == 200, paid.text
    task = await client.post(api(shop, "/tasks"), json={"contact_id": cid, "title": "Call back about the refund"},
                             headers=shop.auth)
    assert task.status_code == 201, task.text
    deal = await client.post(api(shop, "/deals"), json={"title": "Wholesale beans", "contact_id": cid,
                                                         "currency": "USD", "value": 50000}, headers=shop.auth)
    assert deal.status_code == 201, deal.text
    consent = await client.post(api(shop, f"/contacts/{cid}/consent"), json={
        "channel": "email", "purpose": "marketing", "status": "opt_in", "source": "form",
        "evidence": v["consent_evidence"]}, headers=shop.auth)
    assert consent.status_code == 201, consent.text

    recording = f"RIFF recording of {tag}".encode()
    attachment = f"%PDF invoice for {tag}".encode()
    async with tenant_context(shop.tenant):
        from app.conversations import services as conversations

        storage = get_storage()
        rec_key = await storage.put(_chunks(recording), namespace="recordings")
        att_key = await storage.put(_chunks(attachment), namespace="mail")
        file_key = await current_uow().connection.fetchval("SELECT storage_key FROM stored_file WHERE contact = $1",
                                                           cid)
        sms_conv = await conversations.open_conversation(channel="sms", contact_id=cid, subject=v["sms"],
                                                         from_address=v["phone"])
        chat_conv = await conversations.open_conversation(channel="chat", contact_id=cid, subject=v["chat"])
        conn = current_uow().connection
        await conn.execute(
            "INSERT INTO sms_message (sid, direction, from_number, to_number, body, status, contact, conversation) "
            "VALUES ($1, 'in', $2, '+15005550006', $3, 'received', $4, $5)",
            f"SM{tag}{'0' * 24}", v["phone"], v["sms"], cid, sms_conv["id"])
        await conn.execute(
            "INSERT INTO twilio_webhook (kind, sid, dedupe_key, params, meta) VALUES ('sms', $1, $1, $2, '{}')",
            f"SM{tag}{'0' * 24}", json.dumps({"From": v["phone"], "Body": v["sms"]}))
        inbound = await conn.fetchval(
            "INSERT INTO inbound_mail (mail_from, rcpt_to, peer, size, content, message_id) "
            "VALUES ($1, 'support@shop.example', '127.0.0.1', 10, $2, $3) RETURNING id",
            v["email"], f"Subject: {v['email_subject']}\r\n\r\n{v['email_body']}".encode(), f"<{tag}@example.org>")
        await conn.execute(
            "INSERT INTO email_message (direction, contact, inbound, status, message_id, subject, from_address, "
            "to_address, text, html, attachments) VALUES ('in', $1, $2, 'received', $3, $4, $5, "
            "'support@shop.example', $6, '', $7)",
            cid, inbound, f"<{tag}@example.org>", v["email_subject"], v["email"], v["email_body"],
            json.dumps([{"key": att_key, "filename": "invoice.pdf", "content_type": "application/pdf",
                         "size": len(attachment)}]))
        session = await conn.fetchval(
            "INSERT INTO chat_session (token_hash, origin, page_url, visitor_name, visitor_email, contact, "
            "conversation) VALUES ($1, 'https://shop.example', 'https://shop.example/cart', $2, $3, $4, $5) "
            "RETURNING id", secrets.token_hex(16), v["name"], v["email"], cid, chat_conv["id"])
        await conn.execute("INSERT INTO chat_message (chat_session, conversation, direction, body, author_label) "
                           "VALUES ($1, $2, 'in', $3, $4)", session, chat_conv["id"], v["chat"], v["name"])
        await conn.execute(
            "INSERT INTO twilio_call (sid, direction, from_number, to_number, status, contact, recording_sid, "
            "recording_status, recording_duration, recording_key) VALUES ($1, 'inbound', $2, '+15005550006', "
            "'completed', $3, $4, 'completed', 42, $5)", f"CA{tag}{'0' * 24}", v["phone"], cid, f"RE{tag}", rec_key)
    return Seeded(cid, oid, v, {"file": file_key, "recording": rec_key, "attachment": att_key},
                  {"file": file_bytes, "recording": recording, "attachment": attachment})


async def find_anywhere(shop: ShopFixture, value: str) -> list[str]:
    """Every `table.column` of the tenant's schema whose text (jsonb as text) contains `value`, case-insensitive."""
    hits: list[str] = []
    async with tenant_context(shop.tenant):
        conn = current_uow().connection
        cols = await conn.fetch(
            "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
            "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "AND t.table_type = 'BASE TABLE' WHERE c.table_schema = $1 "
            "AND c.data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY')", shop.tenant.schema)
        for col in cols:
            expr = f'"{col["column_name"]}"::text'
            found = await conn.fetchval(
                f'SELECT count(*) FROM "{col["table_name"]}" WHERE strpos(lower({expr}), lower($1)) > 0', value)
            if found:
                hits.append(f"{col['table_name']}.{col['column_name']}")
    return hits
