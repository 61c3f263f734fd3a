"""Privacy's background work: build an export's zip, delete it when its link expires, and the nightly retention run.

Each is idempotent: the export claims its request (queued -> running) under a row lock and a second run finds it
taken or done; the expiry clears a key that is already cleared without harm; retention's purge is by age."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import structlog

from app.lib import jobs
from app.lib.clock import now
from app.lib.db import current_uow, resolve_active, tenant_context
from app.lib.storage import StorageError, get_storage
from app.privacy import export, retention, services

log = structlog.get_logger(__name__)

EXPIRE_JOB = "privacy.expire_export"


async def build_export(payload: dict[str, Any]) -> None:
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    request_id = int(payload["request_id"])
    async with tenant_context(tenant):
        conn = current_uow().connection
        row = await conn.fetchrow("UPDATE privacy_request SET status = 'running', progress = 10 WHERE id = $1 "
                                  "AND kind = 'export' AND status IN ('queued', 'running') RETURNING contact",
                                  request_id)
        if row is None:
            return
        contact_id = row["contact"]
        try:
            fh, counts = await export.build_zip(contact_id)
            with fh:
                key = await get_storage().put(export.chunks_of(fh), namespace="exports")
        except Exception as exc:  # (the request shows what failed; the job is not retried)
            log.exception("privacy.export_failed", request_id=request_id)
            await conn.execute("UPDATE privacy_request SET status = 'failed', done_at = now(), detail = $2 "
                               "WHERE id = $1", request_id, json.dumps({"error": type(exc).__name__}))
            return
        expires = now() + services.EXPORT_TTL
        await conn.execute("UPDATE privacy_request SET status = 'done', done_at = now(), progress = 100, "
                           "storage_key = $2, expires_at = $3, detail = $4 WHERE id = $1",
                           request_id, key, expires, json.dumps({"counts": counts}))
        await jobs.enqueue(EXPIRE_JOB, {"request_id": request_id}, delay=services.EXPORT_TTL,
                           dedupe_key=f"privacy:expire:{tenant.slug}:{request_id}")


async def expire_export(payload: dict[str, Any]) -> None:
    """Delete an export's zip once its link has expired."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        key = await current_uow().connection.fetchval(
            "UPDATE privacy_request r SET storage_key = '' FROM privacy_request old WHERE r.id = old.id AND r.id = $1 "
            "AND r.expires_at <= now() AND r.storage_key <> '' RETURNING old.storage_key", int(payload["request_id"]))
        if key:
            try:
                await get_storage().delete(key)
            except StorageError:
                log.warning("privacy.expire_delete_failed", request_id=payload["request_id"])


async def nightly_retention(payload: dict[str, Any]) -> None:
    """Purge every enabled policy in batches, then queue tomorrow night's run."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        await retention.run_all(None)
        await retention.schedule_next(after=now() + dt.timedelta(minutes=1))
