"""The export of everything about one contact: one zip with `data.json` (every section), one CSV per section and
the files themselves (`files/`, `recordings/`, `attachments/`), built by a job and kept in storage until its link
expires."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
import zipfile
from collections.abc import AsyncIterator
from typing import Any

from app.lib.db import current_uow
from app.lib.storage import StorageError, get_storage
from app.lib.uploads import safe_filename

SECTIONS: tuple[tuple[str, str], ...] = (
    ("card", "SELECT * FROM contact WHERE id = $1"),
    ("phones", "SELECT e164, label, position FROM contact_phone WHERE contact = $1 ORDER BY position"),
    ("emails", "SELECT email, label, position FROM contact_email WHERE contact = $1 ORDER BY position"),
    ("custom_fields", "SELECT f.key, f.label, c.custom -> f.key AS value FROM contact c, custom_field f "
                      "WHERE c.id = $1 AND c.custom ? f.key ORDER BY f.position"),
    ("timeline", "SELECT id, channel, direction, occurred_at, actor_label, summary, payload, links FROM interaction "
                 "WHERE contact = $1 ORDER BY occurred_at, id"),
    ("conversations", "SELECT id, channel, status, subject, from_address, created_at, closed_at, wrapup_code, "
                      "wrapup_note FROM conversation WHERE contact = $1 ORDER BY id"),
    ("sms", "SELECT id, direction, from_number, to_number, body, status, created_at FROM sms_message "
            "WHERE contact = $1 ORDER BY id"),
    ("emails_messages", "SELECT id, direction, status, subject, from_address, to_address, text, attachments, "
                        "created_at, sent_at FROM email_message WHERE contact = $1 ORDER BY id"),
    ("chats", "SELECT m.id, m.chat_session, m.direction, m.author_label, m.body, m.created_at FROM chat_message m "
              "JOIN chat_session s ON s.id = m.chat_session WHERE s.contact = $1 ORDER BY m.id"),
    ("chat_sessions", "SELECT id, visitor_name, visitor_email, visitor_phone, page_url, created_at FROM chat_session "
                      "WHERE contact = $1 ORDER BY id"),
    ("calls", "SELECT id, direction, from_number, to_number, status, outcome, created_at, answered_at, ended_at, "
              "duration, recording_duration, recording_key <> '' AS has_recording FROM twilio_call "
              "WHERE contact = $1 ORDER BY id"),
    ("notes", "SELECT n.id, n.body, u.name AS author, n.created_at FROM note n LEFT JOIN app_user u ON u.id = n.author "
              "WHERE n.contact = $1 ORDER BY n.id"),
    ("files", "SELECT id, filename, content_type, size, sha256, created_at FROM stored_file WHERE contact = $1 "
              "ORDER BY id"),
    ("orders", "SELECT id, number, external_id, currency, status, subtotal, shipping, discount, total, paid, "
               "refunded, delivery_address, note, placed_at, created_at FROM shop_order WHERE contact = $1 "
               "ORDER BY id"),
    ("order_items", "SELECT i.shop_order AS order_id, i.position, i.name, i.sku, i.quantity, i.unit_price, "
                    "i.line_total FROM order_item i JOIN shop_order o ON o.id = i.shop_order WHERE o.contact = $1 "
                    "ORDER BY i.shop_order, i.position"),
    ("order_payments", "SELECT p.shop_order AS order_id, p.kind, p.amount, p.method, p.paid_at, p.external_id, p.note "
                       "FROM order_payment p JOIN shop_order o ON o.id = p.shop_order WHERE o.contact = $1 "
                       "ORDER BY p.id"),
    ("order_messages", "SELECT m.shop_order AS order_id, m.direction, m.body, m.created_at FROM order_message m "
                       "JOIN shop_order o ON o.id = m.shop_order WHERE o.contact = $1 ORDER BY m.id"),
    ("tasks", "SELECT id, kind, title, note, status, due_at, outcome, created_at, completed_at FROM task "
              "WHERE contact = $1 ORDER BY id"),
    ("deals", "SELECT id, title, value, currency, stage, expected_close, reason, created_at, closed_at FROM deal "
              "WHERE contact = $1 ORDER BY id"),
    ("consent", "SELECT channel, purpose, status, source, evidence, at FROM consent_entry WHERE contact = $1 "
                "ORDER BY at, id"),
)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes | memoryview):
        return None
    return value


async def collect(contact_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every section of the contact's data as plain JSON-able rows (jsonb columns decoded)."""
    conn = current_uow().connection
    out: dict[str, list[dict[str, Any]]] = {}
    for name, sql in SECTIONS:
        rows = await conn.fetch(sql, contact_id)
        out[name] = [{k: _plain(v) for k, v in dict(r).items()} for r in rows]
    return out


async def blobs(contact_id: int) -> list[tuple[str, str]]:
    """(path in the zip, storage key) of the contact's files, call recordings and email attachments."""
    conn = current_uow().connection
    out: list[tuple[str, str]] = []
    for r in await conn.fetch("SELECT id, filename, storage_key FROM stored_file WHERE contact = $1 ORDER BY id",
                              contact_id):
        out.append((f"files/{r['id']}-{safe_filename(r['filename'])}", r["storage_key"]))
    for r in await conn.fetch("SELECT id, recording_key FROM twilio_call WHERE contact = $1 AND recording_key <> '' "
                              "ORDER BY id", contact_id):
        out.append((f"recordings/call-{r['id']}.mp3", r["recording_key"]))
    for r in await conn.fetch(
            "SELECT m.id, a ->> 'key' AS key, a ->> 'filename' AS filename FROM email_message m, "
            "jsonb_array_elements(m.attachments) AS a WHERE m.contact = $1 AND jsonb_typeof(m.attachments) = 'array' "
            "ORDER BY m.id", contact_id):
        if r["key"]:
            out.append((f"attachments/email-{r['id']}-{safe_filename(r['filename'] or 'attachment')}", r["key"]))
    return out


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
                         for k, v in row.items()})
    return buf.getvalue()


async def build_zip(contact_id: int) -> tuple[tempfile.SpooledTemporaryFile[bytes], dict[str, int]]:
    """The zip (a spooled temporary file, rewound) and the number of rows or files per section."""
    data = await collect(contact_id)
    files = await blobs(contact_id)
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    counts = {name: len(rows) for name, rows in data.items()}
    storage = get_storage()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.json", json.dumps({"contact_id": contact_id, **data}, ensure_ascii=False, indent=1,
                                            default=str))
        for name, rows in data.items():
            zf.writestr(f"csv/{name}.csv", _csv(rows))
        missing = []
        for path, key in files:
            try:
                body = await storage.read_all(key)
            except StorageError:
                missing.append(path)
                continue
            zf.writestr(path, body)
        counts["blobs"] = len(files) - len(missing)
        if missing:
            zf.writestr("missing.txt", "\n".join(missing))
    out.seek(0)
    return out, counts


async def chunks_of(fh: Any, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    while True:
        block = fh.read(size)
        if not block:
            return
        yield block
