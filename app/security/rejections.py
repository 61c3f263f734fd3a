"""Record rejected inbound requests (webhooks with a bad, foreign or replayed signature; chat calls from a foreign
origin) for the shop's security console. Recording never fails the caller and never lets a flood fill the table:
past CAP_PER_MINUTE rows per reason, source and minute, a rejection is only counted."""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog

from app.lib.db import current_tenant, current_uow, maybe_current_tenant, tenant_context
from app.lib.i18n import N_

log = structlog.get_logger(__name__)

CAP_PER_MINUTE = 20
"""Rows kept in full per reason, source and minute; the rest only add to the minute's `dropped` count."""

MISSING_SIGNATURE = "missing_signature"
BAD_SIGNATURE = "bad_signature"
FOREIGN_SIGNATURE = "foreign_signature"
REPLAYED = "replayed"
STALE = "stale"
FOREIGN_ORIGIN = "foreign_origin"

KEEP = dt.timedelta(days=90)
"""Rejections (and their counts) older than this are deleted, a batch at a time, as new ones come in."""
PURGE_BATCH = 200

REASONS: dict[str, str] = {
    MISSING_SIGNATURE: N_("Missing Twilio signature"),
    BAD_SIGNATURE: N_("Wrong Twilio signature"),
    FOREIGN_SIGNATURE: N_("Signed for another Twilio account"),
    REPLAYED: N_("Replayed request"),
    STALE: N_("Stale request"),
    FOREIGN_ORIGIN: N_("Chat call from a site not in the list"),
}
"""Every reason a request is rejected for, with the label the console shows."""


async def record(reason: str, *, source: str, path: str, detail: str = "") -> None:
    """Record one rejected request for the current tenant. Never raises (a failure is logged): the caller answers
    its 403 whatever happens here. Inside an open unit of work it writes in a savepoint that is committed even when
    the request ends in an error; without one it opens its own."""
    try:
        uow = _open_uow()
        if uow is None:
            async with tenant_context(current_tenant()):
                await _write(reason, source, path, detail)
            return
        async with uow.savepoint():
            await _write(reason, source, path, detail)
        uow.keep_on_error()
    except Exception:  # recording is best effort: the rejection itself has already been decided
        tenant = maybe_current_tenant()
        log.warning("rejection_not_recorded", reason=reason, tenant=tenant.slug if tenant else None, exc_info=True)


def _open_uow() -> Any:
    try:
        return current_uow()
    except Exception:
        return None


async def _write(reason: str, source: str, path: str, detail: str) -> None:
    conn = current_uow().connection
    reason, source = reason[:40], source[:100]
    kept = await conn.fetchrow(
        "INSERT INTO security_rejection_minute AS m (reason, source, minute, recorded, dropped) "
        "VALUES ($1, $2, date_trunc('minute', now()), 1, 0) "
        "ON CONFLICT (reason, source, minute) DO UPDATE SET recorded = m.recorded + 1 WHERE m.recorded < $3 "
        "RETURNING id, xmax = 0 AS fresh", reason, source, CAP_PER_MINUTE)
    if kept is not None and kept["fresh"]:  # once per reason, source and minute: forget what is past keeping
        await conn.execute(
            "DELETE FROM security_rejection WHERE id IN (SELECT id FROM security_rejection "
            "WHERE at < now() - $1::interval ORDER BY at LIMIT $2)", KEEP, PURGE_BATCH)
        await conn.execute(
            "DELETE FROM security_rejection_minute WHERE id IN (SELECT id FROM security_rejection_minute "
            "WHERE minute < now() - $1::interval ORDER BY minute LIMIT $2)", KEEP, PURGE_BATCH)
    if kept is None:  # past the cap: counted, not stored
        await conn.execute(
            "UPDATE security_rejection_minute SET dropped = dropped + 1 "
            "WHERE reason = $1 AND source = $2 AND minute = date_trunc('minute', now())", reason, source)
        return
    await conn.execute(
        "INSERT INTO security_rejection (reason, source, path, detail, at) VALUES ($1, $2, $3, $4, now())",
        reason, source, path[:300], detail[:1000])
