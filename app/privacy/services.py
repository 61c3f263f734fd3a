"""Data requests about one contact: export (a job builds one zip), erasure (tombstones, storage deleted, addresses
kept hashed on the suppression list), legal hold (blocks erasure). Every request is logged with who asked, when,
its due date (30 days after the request) and its outcome; every admin action is in the audit log.

Every function runs inside the caller's unit of work."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from app.accounts.services import Principal
from app.audit import services as audit
from app.contacts.events import CONTACT_UPDATED
from app.lib import jobs
from app.lib.clock import now
from app.lib.db import current_tenant, current_uow
from app.lib.domain import MergeStep
from app.lib.errors import Conflict, Gone, Invalid, NotFound
from app.privacy import erase as erasure
from realtime.publish import emit

EXPORT_JOB = "privacy.export"
DUE_DAYS = 30
EXPORT_TTL = dt.timedelta(days=7)
"""How long an export's download link works; after that the zip is deleted and the link answers 410."""
MAX_REASON = 500

REQUEST_COLUMNS = ("r.id, r.kind, r.contact AS contact_id, r.status, r.requested_by AS requested_by_id, "
                   "u.name AS requested_by_name, r.requested_at, r.due_at, r.done_at, r.progress, r.expires_at, "
                   "r.detail, r.storage_key <> '' AS ready")


def _row(record: Any) -> dict[str, Any]:
    row = dict(record)
    if isinstance(row.get("detail"), str):
        row["detail"] = json.loads(row["detail"])
    return row


async def _contact_exists(contact_id: int) -> None:
    if not await current_uow().connection.fetchval("SELECT EXISTS (SELECT 1 FROM contact WHERE id = $1)", contact_id):
        raise NotFound("No contact %(contact_id)s.", contact_id=contact_id)


async def _log(actor: Principal | None, kind: str, contact_id: int, status: str) -> int:
    at = now()
    return int(await current_uow().connection.fetchval(
        "INSERT INTO privacy_request (kind, contact, status, requested_by, requested_at, due_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        kind, contact_id, status, actor.user_id if actor else None, at, at + dt.timedelta(days=DUE_DAYS)))


async def request_export(actor: Principal, contact_id: int) -> dict[str, Any]:
    """Log an export request and queue the job that builds the zip; returns the request (status queued)."""
    await _contact_exists(contact_id)
    request_id = await _log(actor, "export", contact_id, "queued")
    await jobs.enqueue(EXPORT_JOB, {"request_id": request_id},
                       dedupe_key=f"privacy:export:{current_tenant().slug}:{request_id}")
    await audit.record("privacy.export_requested", actor_id=actor.user_id, actor=actor.label, target_type="contact",
                       target_id=contact_id, detail={"request_id": request_id})
    return await get_request(request_id)


async def erase(actor: Principal, contact_id: int) -> dict[str, Any]:
    """Erase a contact's personal data now; 409 under a legal hold (and nothing changes). Returns the request with
    the counts of what was cleared."""
    await _contact_exists(contact_id)
    hold = await legal_hold(contact_id)
    if hold is not None:
        raise Conflict("This contact is under a legal hold (%(reason)s); an admin must clear the hold before it can "
                       "be erased.", reason=hold["reason"])
    conn = current_uow().connection
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM privacy_request WHERE contact = $1 AND kind = 'erase' "
                           "AND status = 'done')", contact_id):
        raise Conflict("This contact was erased already.")
    request_id = await _log(actor, "erase", contact_id, "running")
    detail = await erasure.erase_contact(contact_id)
    await conn.execute("UPDATE privacy_request SET status = 'done', done_at = now(), progress = 100, detail = $2 "
                       "WHERE id = $1", request_id, json.dumps(detail))
    await audit.record("privacy.erased", actor_id=actor.user_id, actor=actor.label, target_type="contact",
                       target_id=contact_id, detail={"request_id": request_id, "files": detail["files"],
                                                     "rows": sum(detail["rows"].values())})
    await emit(CONTACT_UPDATED, contact_id=contact_id)
    return await get_request(request_id)


async def legal_hold(contact_id: int) -> dict[str, Any] | None:
    row = await current_uow().connection.fetchrow(
        "SELECT h.reason, h.set_at, h.set_by AS set_by_id, u.name AS set_by_name FROM legal_hold h "
        "LEFT JOIN app_user u ON u.id = h.set_by WHERE h.contact = $1", contact_id)
    return dict(row) if row else None


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise Invalid("reason must be 1 to %(max)s characters: say why (a court order, a dispute, an audit).",
                      field="reason", max=MAX_REASON)
    return reason


async def set_legal_hold(actor: Principal, contact_id: int, reason: str) -> dict[str, Any]:
    """Put the contact under a legal hold (or change its reason); audited."""
    reason = _reason(reason)
    await _contact_exists(contact_id)
    await current_uow().connection.execute(
        "INSERT INTO legal_hold (contact, reason, set_by) VALUES ($1, $2, $3) ON CONFLICT (contact) DO UPDATE "
        "SET reason = EXCLUDED.reason, set_by = EXCLUDED.set_by, set_at = now()", contact_id, reason, actor.user_id)
    await audit.record("privacy.hold_set", actor_id=actor.user_id, actor=actor.label, target_type="contact",
                       target_id=contact_id, detail={"reason": reason})
    hold = await legal_hold(contact_id)
    assert hold is not None
    return hold


async def clear_legal_hold(actor: Principal, contact_id: int, reason: str) -> None:
    """Lift the hold; the reason for lifting it is audited."""
    reason = _reason(reason)
    await _contact_exists(contact_id)
    status = await current_uow().connection.execute("DELETE FROM legal_hold WHERE contact = $1", contact_id)
    if status.endswith(" 0"):
        raise NotFound("This contact is not under a legal hold.")
    await audit.record("privacy.hold_cleared", actor_id=actor.user_id, actor=actor.label, target_type="contact",
                       target_id=contact_id, detail={"reason": reason})


async def get_request(request_id: int) -> dict[str, Any]:
    row = await current_uow().connection.fetchrow(
        f"SELECT {REQUEST_COLUMNS} FROM privacy_request r LEFT JOIN app_user u ON u.id = r.requested_by "  # noqa: S608
        "WHERE r.id = $1", request_id)
    if row is None:
        raise NotFound("No data request %(request_id)s.", request_id=request_id)
    return _row(row)


async def list_requests(limit: int = 200, contact_id: int | None = None) -> list[dict[str, Any]]:
    """The newest requests first (optionally one contact's)."""
    rows = await current_uow().connection.fetch(
        f"SELECT {REQUEST_COLUMNS} FROM privacy_request r LEFT JOIN app_user u ON u.id = r.requested_by "  # noqa: S608
        "WHERE ($2::int IS NULL OR r.contact = $2) ORDER BY r.requested_at DESC, r.id DESC LIMIT $1",
        min(max(limit, 1), 500), contact_id)
    return [_row(r) for r in rows]


async def download(request_id: int) -> tuple[str, str]:
    """(storage key, file name) of a finished export whose link has not expired (409 not ready, 410 expired)."""
    row = await current_uow().connection.fetchrow(
        "SELECT kind, contact, status, storage_key, expires_at FROM privacy_request WHERE id = $1", request_id)
    if row is None or row["kind"] != "export":
        raise NotFound("No export %(request_id)s.", request_id=request_id)
    if row["expires_at"] is not None and row["expires_at"] <= now():
        raise Gone("This export's link has expired; ask for a new export.")
    if row["status"] != "done" or not row["storage_key"]:
        raise Conflict("This export is not ready yet (status %(status)s).", status=row["status"])
    return row["storage_key"], f"contact-{row['contact']}-export-{request_id}.zip"


async def _move_hold(source: int, target: int) -> int:
    """Merge step: a hold on the merged-away contact holds the survivor (the survivor's own hold wins if both)."""
    conn = current_uow().connection
    status = await conn.execute("UPDATE legal_hold SET contact = $2 WHERE contact = $1 AND NOT EXISTS "
                                "(SELECT 1 FROM legal_hold WHERE contact = $2)", source, target)
    await conn.execute("DELETE FROM legal_hold WHERE contact = $1", source)
    return int(status.split()[-1])


MERGE_STEP = MergeStep("legal_hold", _move_hold, tables=("legal_hold",))
