"""Erasure of one contact's personal data, in one unit of work.

Two passes. First the rows that belong to the contact are turned into tombstones where the business needs the
record (the card, its conversations, calls, orders with their amounts, tasks, deals) and stripped of personal text
(bodies, subjects, numbers, addresses), and the rows that are nothing but personal data are deleted (phones,
emails, files, raw inbound mails). Then a sweep goes over every text, varchar and jsonb column of the tenant's
schema and replaces the contact's personal values wherever a copy of them was made (the event log, the audit
log, raw webhooks, outbound webhook bodies, automation runs): a copy nobody thought of is still found.

Recordings, files, email attachments and earlier export zips are deleted from storage once the transaction has
committed. The contact's addresses are added, hashed, to the suppression list, so the erased client is never
messaged again."""

from __future__ import annotations

import json
import re
from typing import Any

import structlog

from app.consent import services as consent
from app.lib.db import current_tenant, current_uow, tenant_selected
from app.lib.errors import Conflict
from app.lib.storage import StorageError, get_storage

log = structlog.get_logger(__name__)

ERASED = "[erased]"
MIN_SWEEP = 4
"""Shorter values ("ok", "Li") are cleared where they belong, but not hunted across the schema."""
SKIP_TABLES = {"suppression", "consent_salt", "migration", "privacy_request", "listener_cursor", "event_log_floor",
               "app_user", "api_key", "user_session", "invitation", "workspace", "email_account", "twilio_config",
               "chat_settings", "custom_field"}
"""Tables that hold no client's values (hashes, salts, bookkeeping) or the shop's own people and settings: a staff
member who shares the client's name keeps it."""
CODE_COLUMNS = {"action", "target_type", "kind", "status", "state", "outcome", "metric", "channel", "code", "key",
                "strategy", "purpose"}
"""Columns that hold the product's own codes (an audit action, a status, a channel), never a person's words: a
client whose name happens to be "waiting" or "contact" must not rewrite them (and the audit log refuses it)."""


async def _fetch_values(contact_id: int) -> tuple[list[str], list[str], list[str]]:
    """(phones in E.164, lower-cased emails, every personal value to sweep) of the contact, read before anything
    is changed."""
    conn = current_uow().connection
    phones = [r["e164"] for r in await conn.fetch("SELECT e164 FROM contact_phone WHERE contact = $1", contact_id)]
    emails = [r["email"].lower() for r in await conn.fetch("SELECT email FROM contact_email WHERE contact = $1",
                                                           contact_id)]
    values: list[str] = [*phones, *(p.lstrip("+") for p in phones), *emails]
    card = await conn.fetchrow("SELECT name, address, preferences, custom::text AS custom FROM contact WHERE id = $1",
                               contact_id)
    if card:
        values += [card["name"], card["address"], card["preferences"]]
        values += [str(v) for v in _leaves(json.loads(card["custom"] or "{}"))]
    queries = [
        "SELECT body AS v FROM note WHERE contact = $1",
        "SELECT body AS v FROM sms_message WHERE contact = $1",
        "SELECT from_number AS v FROM sms_message WHERE contact = $1 AND direction = 'in'",
        "SELECT to_number AS v FROM sms_message WHERE contact = $1 AND direction = 'out'",
        "SELECT from_number AS v FROM twilio_call WHERE contact = $1 AND direction = 'inbound'",
        "SELECT to_number AS v FROM twilio_call WHERE contact = $1 AND direction <> 'inbound'",
        "SELECT subject AS v FROM email_message WHERE contact = $1",
        "SELECT text AS v FROM email_message WHERE contact = $1",
        "SELECT from_address AS v FROM email_message WHERE contact = $1 AND direction = 'in'",
        "SELECT to_address AS v FROM email_message WHERE contact = $1 AND direction = 'out'",
        "SELECT m.body AS v FROM chat_message m JOIN chat_session s ON s.id = m.chat_session WHERE s.contact = $1",
        "SELECT visitor_name AS v FROM chat_session WHERE contact = $1",
        "SELECT visitor_email AS v FROM chat_session WHERE contact = $1",
        "SELECT visitor_phone AS v FROM chat_session WHERE contact = $1",
        "SELECT subject AS v FROM conversation WHERE contact = $1",
        "SELECT from_address AS v FROM conversation WHERE contact = $1",
        "SELECT callback_number AS v FROM conversation WHERE contact = $1",
        "SELECT wrapup_note AS v FROM conversation WHERE contact = $1",
        "SELECT delivery_address AS v FROM shop_order WHERE contact = $1",
        "SELECT note AS v FROM shop_order WHERE contact = $1",
        "SELECT m.body AS v FROM order_message m JOIN shop_order o ON o.id = m.shop_order WHERE o.contact = $1",
        "SELECT evidence AS v FROM consent_entry WHERE contact = $1",
    ]
    for sql in queries:
        values += [r["v"] for r in await conn.fetch(sql, contact_id) if r["v"]]
    clean = sorted({v.strip() for v in values if v and len(v.strip()) >= MIN_SWEEP}, key=len, reverse=True)
    return phones, emails, clean


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [] if value is None or isinstance(value, bool) else [value]


async def _storage_keys(contact_id: int) -> list[str]:
    conn = current_uow().connection
    keys = [r["k"] for r in await conn.fetch("SELECT storage_key AS k FROM stored_file WHERE contact = $1", contact_id)]
    keys += [r["k"] for r in await conn.fetch(
        "SELECT recording_key AS k FROM twilio_call WHERE contact = $1 AND recording_key <> ''", contact_id)]
    keys += [r["k"] for r in await conn.fetch(
        "SELECT a ->> 'key' AS k FROM email_message, jsonb_array_elements(attachments) AS a "
        "WHERE contact = $1 AND jsonb_typeof(attachments) = 'array'", contact_id)]
    keys += [r["k"] for r in await conn.fetch(
        "SELECT storage_key AS k FROM privacy_request WHERE contact = $1 AND kind = 'export' AND storage_key <> ''",
        contact_id)]
    return [k for k in keys if k]


TOMBSTONES = (
    # The card: a tombstone that keeps its id (orders, calls and the request log point at it).
    ("contact", "UPDATE contact SET name = 'Erased contact #' || id, company = '', birth_date = NULL, address = '', "
                "preferences = '', tags = '{}', custom = '{}', search_text = '', temperature = NULL, "
                "language = '', timezone = '', updated_at = now(), version = version + 1 WHERE id = $1"),
    ("phones", "DELETE FROM contact_phone WHERE contact = $1"),
    ("emails", "DELETE FROM contact_email WHERE contact = $1"),
    ("notes", "UPDATE note SET body = '' WHERE contact = $1"),
    ("files", "DELETE FROM stored_file WHERE contact = $1"),
    ("sms", "UPDATE sms_message SET body = '', from_number = '', to_number = '' WHERE contact = $1"),
    ("calls", "UPDATE twilio_call SET from_number = '', to_number = '', recording_key = '' WHERE contact = $1"),
    ("raw_mails", "UPDATE inbound_mail SET mail_from = '', rcpt_to = '', content = ''::bytea, peer = '' "
                  "WHERE id IN (SELECT inbound FROM email_message WHERE contact = $1 AND inbound IS NOT NULL)"),
    ("emails_sent", "UPDATE email_message SET subject = '', from_address = '', to_address = '', text = '', "
                    "html = '', attachments = '[]', error = '', thread_refs = '' WHERE contact = $1"),
    ("chat_messages", "UPDATE chat_message SET body = '' WHERE chat_session IN "
                      "(SELECT id FROM chat_session WHERE contact = $1)"),
    ("chat_sessions", "UPDATE chat_session SET visitor_name = '', visitor_email = '', visitor_phone = '', "
                      "page_url = '' WHERE contact = $1"),
    ("conversations", "UPDATE conversation SET subject = '', from_address = '', callback_number = '', "
                      "wrapup_note = '' WHERE contact = $1"),
    ("timeline", "UPDATE interaction SET summary = 'Erased', payload = '{}' WHERE contact = $1"),
    ("orders", "UPDATE shop_order SET delivery_address = '', note = '', portal_token_hash = '', "
               "portal_revoked_at = COALESCE(portal_revoked_at, now()) WHERE contact = $1"),
    ("order_messages", "UPDATE order_message SET body = '' WHERE shop_order IN "
                       "(SELECT id FROM shop_order WHERE contact = $1)"),
    ("order_notes", "UPDATE order_status_change SET note = '' WHERE shop_order IN "
                    "(SELECT id FROM shop_order WHERE contact = $1)"),
    ("payment_notes", "UPDATE order_payment SET note = '' WHERE shop_order IN "
                      "(SELECT id FROM shop_order WHERE contact = $1)"),
    ("tasks", "UPDATE task SET title = 'Erased', note = '', outcome = '' WHERE contact = $1"),
    ("deals", "UPDATE deal SET title = 'Erased', reason = '' WHERE contact = $1"),
    ("deal_changes", "UPDATE deal_stage_change SET reason = '' WHERE deal IN (SELECT id FROM deal WHERE contact = $1)"),
    ("consent", "UPDATE consent_entry SET evidence = '' WHERE contact = $1"),
    ("automation_runs", "UPDATE automation_run SET note = '' WHERE contact_id = $1"),
    # Upsell: suggestions are a profile of the client, deleted; its events keep only product keys and amounts, like
    # the orders they count (app.upsell leaves erased contacts out of every recompute).
    ("upsell_suggestions", "DELETE FROM upsell_suggestion WHERE contact = $1"),
    ("segment_lists", "DELETE FROM segment_member WHERE contact = $1"),  # off every static list
)


def sweep_pattern(values: list[str]) -> str | None:
    """One case-insensitive regular expression matching any of the values, as written and as they appear escaped
    inside JSON (a jsonb column cast to text)."""
    forms: set[str] = set()
    for v in values:
        forms.add(v)
        forms.add(json.dumps(v, ensure_ascii=False)[1:-1])
    if not forms:
        return None
    return "(" + "|".join(_pg_escape(f) for f in sorted(forms, key=len, reverse=True)) + ")"


def _pg_escape(text: str) -> str:
    """Escape a literal for a PostgreSQL ARE: a backslash before every character that is not a letter or digit."""
    return re.sub(r"([^\w\s])", r"\\\1", text)


async def _columns() -> list[tuple[str, str, str, bool]]:
    """(table, column, data type, has a `contact` column) for every text, varchar and jsonb column of the schema."""
    rows = await current_uow().connection.fetch(
        "SELECT c.table_name, c.column_name, c.data_type, EXISTS (SELECT 1 FROM information_schema.columns k "
        "  WHERE k.table_schema = c.table_schema AND k.table_name = c.table_name AND k.column_name = 'contact') "
        "  AS has_contact "
        "FROM information_schema.columns c JOIN information_schema.tables t "
        "  ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' "
        "WHERE c.table_schema = current_schema() "
        "  AND c.data_type IN ('text', 'character varying', 'jsonb', 'json') ORDER BY 1, 2")
    return [(r["table_name"], r["column_name"], r["data_type"], r["has_contact"]) for r in rows
            if r["table_name"] not in SKIP_TABLES]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def sweep(contact_id: int, values: list[str]) -> dict[str, int]:
    """Replace the values in every text column of the schema; rows of *other* contacts in tables that have a
    `contact` column are left alone (a namesake keeps their name). Returns rows changed per table."""
    pattern = sweep_pattern(values)
    if pattern is None:
        return {}
    uow = current_uow()
    changed: dict[str, int] = {}
    for table, column, kind, has_contact in await _columns():
        if column in CODE_COLUMNS:
            continue
        col = _ident(column)
        scope = ""
        if table == "contact":
            scope = " AND id = $2"
        elif has_contact:
            scope = " AND (contact = $2 OR contact IS NULL)"
        args: list[Any] = [pattern] + ([contact_id] if scope else [])
        text = f"{col}::text" if kind in ("jsonb", "json") else col
        for replacement in (ERASED, ""):
            value = f"regexp_replace({text}, $1, '{replacement}', 'gi')"
            if kind in ("jsonb", "json"):
                value = f"({value})::{kind}"
            sql = f"UPDATE {_ident(table)} SET {col} = {value} WHERE {text} ~* $1{scope}"  # noqa: S608
            try:
                async with uow.savepoint():
                    status = await uow.connection.execute(sql, *args)
            except Exception as exc:  # (a too-long varchar or a unique clash: try the empty string)
                log.warning("privacy.sweep_retry", table=table, column=column, error=type(exc).__name__)
                continue
            count = int(status.split()[-1])
            if count:
                changed[table] = changed.get(table, 0) + count
            break
        else:
            raise Conflict("The erasure stopped: a value of this contact could not be cleared from %(place)s, so "
                           "nothing was changed. Tell your administrator; the request is logged.",
                           place=f"{table}.{column}")
    return changed


def delete_after_commit(keys: list[str]) -> None:
    """Delete these storage objects once the caller's unit of work commits (a rollback keeps them); a delete that
    fails is logged, never raised (the rows are gone already)."""
    if not keys:
        return
    tenant = current_tenant()

    async def delete_objects() -> None:
        storage = get_storage()
        with tenant_selected(tenant):  # after-commit hooks run once the unit of work has let go of the tenant
            for key in keys:
                try:
                    await storage.delete(key)
                except StorageError:
                    log.warning("privacy.storage_delete_failed", key=key)

    current_uow().after_commit(delete_objects)


async def erase_contact(contact_id: int) -> dict[str, Any]:
    """Erase inside the caller's unit of work; returns the counts for the request log and the audit entry (no
    personal value in them). Storage objects are deleted after commit."""
    conn = current_uow().connection
    phones, emails, values = await _fetch_values(contact_id)
    keys = await _storage_keys(contact_id)
    suppressed = 0
    for channel in consent.PHONE_CHANNELS:
        suppressed += await consent.suppress(channel, phones, "erasure")
    suppressed += await consent.suppress("email", emails, "erasure")
    counts: dict[str, int] = {}
    for name, sql in TOMBSTONES:
        status = await conn.execute(sql, contact_id)
        counts[name] = int(status.split()[-1])
    await conn.execute("UPDATE privacy_request SET storage_key = '' WHERE contact = $1 AND kind = 'export'",
                       contact_id)
    swept = await sweep(contact_id, values)
    delete_after_commit(keys)
    return {"rows": {k: v for k, v in counts.items() if v}, "swept": swept, "files": len(keys),
            "suppressed": suppressed}
