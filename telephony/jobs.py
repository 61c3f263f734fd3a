"""The webhook processing job: one stored webhook per run, idempotent, retried by PgQueuer when it fails."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from app.lib.db import current_uow, resolve_active, tenant_context
from telephony import callbacks, calls, conference, sms

log = structlog.get_logger(__name__)

Handler = Callable[[dict[str, str], dict[str, Any]], Awaitable[None]]
HANDLERS: dict[str, Handler] = {
    "voice": calls.on_voice,
    "fallback": calls.on_fallback,
    "gather": calls.on_gather,
    "callback": callbacks.on_request,
    "enqueue": calls.on_enqueue_leave,
    "dial": calls.on_dial,
    "voicemail": calls.on_voicemail,
    "status": calls.on_status,
    "recording": calls.on_recording,
    "conference": conference.on_conference,
    "participant-status": conference.on_participant_status,
    "sms": sms.on_inbound,
    "sms-status": sms.on_status,
}


async def process_webhook(payload: dict[str, Any]) -> None:
    """Apply one stored webhook. A failure is written on the webhook row (attempts, last_error) in its own
    transaction, then re-raised so the queue retries with back-off; a processed webhook is never applied twice."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    webhook_id = int(payload["webhook_id"])
    try:
        async with tenant_context(tenant):
            conn = current_uow().connection
            row = await conn.fetchrow("SELECT kind, params, meta, processed_at FROM twilio_webhook WHERE id = $1 "
                                      "FOR UPDATE", webhook_id)
            if row is None or row["processed_at"] is not None:
                return
            await HANDLERS[row["kind"]](json.loads(row["params"]), json.loads(row["meta"]))
            await conn.execute("UPDATE twilio_webhook SET processed_at = now(), attempts = attempts + 1 WHERE id = $1",
                               webhook_id)
    except Exception as exc:
        async with tenant_context(tenant):
            await current_uow().connection.execute(
                "UPDATE twilio_webhook SET attempts = attempts + 1, last_error = $2 WHERE id = $1", webhook_id,
                f"{exc.__class__.__name__}: {exc}"[:2000])
        log.warning("twilio_webhook_failed", tenant=tenant.slug, webhook_id=webhook_id, error=str(exc))
        raise
