"""Retention: per data class, keep N days (None = forever), then delete or anonymise. An admin sees a dry-run count
before enabling a policy; a nightly job (self-rescheduling, one per tenant per night) purges in batches; every purge
is written to the audit log with its counts.

Each class is a small plan: the rows it covers (`where`, by age), how to count them, and what delete and anonymise
do to a batch of ids. Storage objects (recordings, attachments, files) are deleted after the batch commits."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from app.accounts.services import Principal, workspace_zone
from app.audit import services as audit
from app.lib import jobs
from app.lib.clock import now
from app.lib.db import current_tenant, current_uow
from app.lib.errors import Invalid, NotFound
from app.privacy.erase import delete_after_commit
from app.privacy.tables import ACTIONS, DATA_CLASSES
from realtime import log as event_log

RETENTION_JOB = "privacy.retention"
BATCH = 500
MAX_BATCHES = 200
"""At most BATCH * MAX_BATCHES rows per class per night; the rest waits for the next night."""
MIN_AUDIT_DAYS = 365
EVERYTHING = 2**62
"""`keep` for realtime.log.trim: no count limit, the age alone decides."""
NIGHT_HOUR = 3
"""Local hour (the workspace's zone) the nightly run starts."""


@dataclasses.dataclass(frozen=True)
class Step:
    """One table of a data class: which rows are old (`where`, with $1 = the cutoff), and the SQL per action for a
    batch (`$1` = the ids). `keys` selects storage keys to delete for a batch."""

    table: str
    where: str
    delete: str
    anonymise: str
    keys: str = ""


NOT_HELD = " AND (contact IS NULL OR contact NOT IN (SELECT contact FROM legal_hold))"
"""A contact under a legal hold keeps everything: retention skips the rows that belong to them."""
CONVERSATION_NOT_HELD = (" AND (conversation IS NULL OR conversation NOT IN (SELECT c.id FROM conversation c "
                         "JOIN legal_hold h ON h.contact = c.contact))")

PLANS: dict[str, tuple[Step, ...]] = {
    "recordings": (
        Step("twilio_call", "recording_key <> '' AND created_at < $1" + NOT_HELD,
             "UPDATE twilio_call SET recording_key = '' WHERE id = ANY($1)",
             "UPDATE twilio_call SET recording_key = '' WHERE id = ANY($1)",
             "SELECT recording_key AS k FROM twilio_call WHERE id = ANY($1)"),
    ),
    "messages": (
        Step("sms_message", "created_at < $1 AND body <> ''" + NOT_HELD,
             "DELETE FROM sms_message WHERE id = ANY($1)", "UPDATE sms_message SET body = '' WHERE id = ANY($1)"),
        Step("chat_message", "created_at < $1 AND body <> ''" + CONVERSATION_NOT_HELD,
             "DELETE FROM chat_message WHERE id = ANY($1)", "UPDATE chat_message SET body = '' WHERE id = ANY($1)"),
        Step("email_message", "created_at < $1 AND (text <> '' OR html <> '' OR subject <> '')" + NOT_HELD,
             "UPDATE email_message SET subject = '', text = '', html = '' WHERE id = ANY($1)",
             "UPDATE email_message SET subject = '', text = '', html = '' WHERE id = ANY($1)"),
    ),
    "attachments": (
        Step("email_message", "created_at < $1 AND attachments <> '[]'::jsonb" + NOT_HELD,
             "UPDATE email_message SET attachments = '[]' WHERE id = ANY($1)",
             "UPDATE email_message SET attachments = '[]' WHERE id = ANY($1)",
             "SELECT a ->> 'key' AS k FROM email_message, jsonb_array_elements(attachments) AS a "
             "WHERE id = ANY($1) AND jsonb_typeof(attachments) = 'array'"),
        Step("stored_file", "created_at < $1" + NOT_HELD,
             "DELETE FROM stored_file WHERE id = ANY($1)", "DELETE FROM stored_file WHERE id = ANY($1)",
             "SELECT storage_key AS k FROM stored_file WHERE id = ANY($1)"),
    ),
    "closed_conversations": (
        Step("conversation", "status = 'closed' AND closed_at < $1 AND (subject <> '' OR wrapup_note <> '' "
                             "OR from_address <> '' OR callback_number <> '')" + NOT_HELD,
             "UPDATE conversation SET subject = '', wrapup_note = '', from_address = '', callback_number = '' "
             "WHERE id = ANY($1)",
             "UPDATE conversation SET subject = '', wrapup_note = '', from_address = '', callback_number = '' "
             "WHERE id = ANY($1)"),
    ),
    "raw_inbound": (
        Step("twilio_webhook", "received_at < $1 AND processed_at IS NOT NULL",
             "DELETE FROM twilio_webhook WHERE id = ANY($1)",
             "UPDATE twilio_webhook SET params = '{}', meta = '{}' WHERE id = ANY($1)"),
        # An inbound mail's row is what its email message points at: its raw bytes go, the row stays.
        Step("inbound_mail", "received_at < $1 AND processed_at IS NOT NULL AND length(content) > 0",
             "UPDATE inbound_mail SET content = ''::bytea, mail_from = '', rcpt_to = '', peer = '' WHERE id = ANY($1)",
             "UPDATE inbound_mail SET content = ''::bytea, mail_from = '', rcpt_to = '', peer = '' WHERE id = ANY($1)"),
    ),
    "webhook_deliveries": (
        Step("webhook_delivery", "created_at < $1 AND status <> 'pending'",
             "DELETE FROM webhook_delivery WHERE id = ANY($1)",
             "UPDATE webhook_delivery SET body = '', request_headers = '{}', response_body = '' WHERE id = ANY($1)"),
    ),
    # The event log is trimmed by realtime.log.trim (its floor, and the slowest durable listener, respected).
    "event_log": (),
    "audit": (
        Step("audit_entry", "at < $1 AND action NOT LIKE 'retention.%'",
             "DELETE FROM audit_entry WHERE id = ANY($1)",
             "UPDATE audit_entry SET detail = '{}', ip = '', actor = '' WHERE id = ANY($1)"),
    ),
}
assert set(PLANS) == set(DATA_CLASSES)


def _cutoff(keep_days: int) -> dt.datetime:
    return now() - dt.timedelta(days=keep_days)


def _check(data_class: str, keep_days: int | None, action: str) -> None:
    if data_class not in PLANS:
        raise Invalid("data_class must be one of: %(choices)s.", field="data_class", choices=", ".join(DATA_CLASSES))
    if action not in ACTIONS:
        raise Invalid("action must be delete or anonymise.", field="action")
    if keep_days is not None and not 1 <= keep_days <= 36500:
        raise Invalid("keep_days must be 1 to 36500, or empty to keep forever.", field="keep_days")
    if data_class == "audit" and keep_days is not None and keep_days < MIN_AUDIT_DAYS:
        raise Invalid("Audit entries are kept at least %(days)s days.", field="keep_days", days=MIN_AUDIT_DAYS)


async def policies() -> list[dict[str, Any]]:
    """Every data class with its policy (a class never set keeps everything, disabled)."""
    rows = {r["data_class"]: dict(r) for r in await current_uow().connection.fetch(
        "SELECT data_class, keep_days, action, enabled, updated_at, last_run_at, last_count FROM retention_policy")}
    return [rows.get(c, {"data_class": c, "keep_days": None, "action": "delete", "enabled": False,
                         "updated_at": None, "last_run_at": None, "last_count": None}) for c in DATA_CLASSES]


async def policy(data_class: str) -> dict[str, Any]:
    for p in await policies():
        if p["data_class"] == data_class:
            return p
    raise NotFound("No data class %(data_class)s; one of: %(choices)s.", data_class=data_class,
                   choices=", ".join(DATA_CLASSES))


async def dry_run(data_class: str, keep_days: int | None) -> int:
    """How many rows the policy would purge now (0 when it keeps everything)."""
    _check(data_class, keep_days, "delete")
    if keep_days is None:
        return 0
    conn = current_uow().connection
    if data_class == "event_log":
        return int(await conn.fetchval("SELECT count(*) FROM event_log WHERE at < $1", _cutoff(keep_days)))
    total = 0
    for step in PLANS[data_class]:
        total += int(await conn.fetchval(f"SELECT count(*) FROM {step.table} WHERE {step.where}",  # noqa: S608
                                         _cutoff(keep_days)))
    return total


async def save(actor: Principal, data_class: str, *, keep_days: int | None, action: str, enabled: bool) -> dict[
        str, Any]:
    """Set a class's policy; enabling one schedules the nightly run. Audited with the dry-run count it was saved
    with."""
    _check(data_class, keep_days, action)
    if enabled and keep_days is None:
        raise Invalid("Set keep_days before enabling the policy.", field="keep_days")
    count = await dry_run(data_class, keep_days)
    await current_uow().connection.execute(
        "INSERT INTO retention_policy (data_class, keep_days, action, enabled, updated_by, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT (data_class) DO UPDATE SET keep_days = EXCLUDED.keep_days, "
        "action = EXCLUDED.action, enabled = EXCLUDED.enabled, updated_by = EXCLUDED.updated_by, updated_at = now()",
        data_class, keep_days, action, enabled, actor.user_id)
    await audit.record("retention.policy_set", actor_id=actor.user_id, actor=actor.label,
                       target_type="retention_policy", target_id=data_class,
                       detail={"keep_days": keep_days, "action": action, "enabled": enabled, "would_purge": count})
    if enabled:
        await schedule_next()
    return await policy(data_class)


async def purge(data_class: str, *, actor: Principal | None = None) -> int:
    """Apply the class's policy now, in batches; returns the rows purged and writes them to the audit log."""
    p = await policy(data_class)
    if p["keep_days"] is None:
        return 0
    conn = current_uow().connection
    cutoff = _cutoff(p["keep_days"])
    counts: dict[str, int] = {}
    keys: list[str] = []
    if data_class == "event_log":
        # Either action drops the events: an event without its data is of no use to anyone.
        counts["event_log"] = await event_log.trim(keep=EVERYTHING, max_age=dt.timedelta(days=p["keep_days"]))
    for step in PLANS[data_class]:
        for _ in range(MAX_BATCHES):
            ids = [r["id"] for r in await conn.fetch(
                f"SELECT id FROM {step.table} WHERE {step.where} ORDER BY id LIMIT {BATCH}", cutoff)]  # noqa: S608
            if not ids:
                break
            if step.keys:
                keys += [r["k"] for r in await conn.fetch(step.keys, ids) if r["k"]]
            await conn.execute(step.delete if p["action"] == "delete" else step.anonymise, ids)
            counts[step.table] = counts.get(step.table, 0) + len(ids)
    total = sum(counts.values())
    await conn.execute("UPDATE retention_policy SET last_run_at = now(), last_count = $2 WHERE data_class = $1",
                       data_class, total)
    await audit.record("retention.purged", actor_id=actor.user_id if actor else None,
                       actor=actor.label if actor else "retention", target_type="retention_policy",
                       target_id=data_class, detail={"action": p["action"], "keep_days": p["keep_days"],
                                                     "cutoff": cutoff.isoformat(), "count": total, "tables": counts})
    delete_after_commit(keys)
    return total


async def run_all(actor: Principal | None) -> dict[str, int]:
    """Purge every enabled policy (the nightly job)."""
    out: dict[str, int] = {}
    for p in await policies():
        if p["enabled"] and p["keep_days"] is not None:
            out[p["data_class"]] = await purge(p["data_class"], actor=actor)
    return out


async def schedule_next(after: dt.datetime | None = None) -> None:
    """Queue the next nightly run (03:00 in the workspace's zone) unless one is queued for that night already."""
    conn = current_uow().connection
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM retention_policy WHERE enabled)"):
        return
    await jobs.enqueue_nightly(RETENTION_JOB, hour=NIGHT_HOUR, zone=await workspace_zone(), after=after,
                               key=f"privacy:retention:{current_tenant().slug}")
