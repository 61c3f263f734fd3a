"""Webhook intake: check Twilio's signature first, then store the raw request and its job in one transaction."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request
from litestar.exceptions import PermissionDeniedException
from twilio.request_validator import RequestValidator

from app.lib import jobs, reqctx
from app.lib.crypto import SecretUnreadable
from app.lib.db import current_uow
from app.lib.errors import Conflict, NotFound
from app.security import rejections, replay
from app.settings import get_settings
from telephony import config as config_service
from telephony.config import Config

MAX_PARAMS = 120
MAX_VALUE = 4000
JOB = "telephony.process_webhook"
PROBLEMS_SHOWN = 50


def public_url(request: Request[Any, Any, Any]) -> str:
    """The URL exactly as Twilio requested it: the configured public base, the path and the query string."""
    path = request.scope.get("raw_path", b"").decode("latin-1") or request.scope["path"]
    query = request.scope.get("query_string", b"").decode("latin-1")
    return get_settings().app.base_url + path + (f"?{query}" if query else "")


async def verified(request: Request[Any, Any, Any]) -> tuple[Config, dict[str, str]]:
    """The tenant's Twilio config and the request's parameters, or 403 before anything is read or written.

    Every failure gets the same 403: a caller learns nothing about which part was wrong. The shop's admins do: each
    refusal is recorded with its reason for the security console (app.security.rejections)."""
    signature = request.headers.get("x-twilio-signature", "")
    if not signature:
        await _reject(request, rejections.MISSING_SIGNATURE)
        raise PermissionDeniedException("Missing X-Twilio-Signature.")
    try:
        config = await config_service.load()
    except SecretUnreadable:
        config = None
    if config is None:
        await _reject(request, rejections.BAD_SIGNATURE, "no Twilio account is configured")
        raise PermissionDeniedException("Invalid Twilio signature.")
    url = public_url(request)
    if "bodySHA256" in request.query_params:  # JSON-bodied webhooks are not configured for these routes
        await _reject(request, rejections.BAD_SIGNATURE, "JSON-bodied webhook")
        raise PermissionDeniedException("Invalid Twilio signature.")
    form = await request.form()
    account = form.get("AccountSid", config.account_sid)
    if not RequestValidator(config.auth_token).validate(url, form, signature) or account != config.account_sid:
        foreign = isinstance(account, str) and account != config.account_sid
        await _reject(request, rejections.FOREIGN_SIGNATURE if foreign else rejections.BAD_SIGNATURE,
                      f"AccountSid {str(account)[:40]}" if foreign else "")
        raise PermissionDeniedException("Invalid Twilio signature.")
    params: dict[str, str] = {}
    for key, value in form.multi_items():
        if len(params) >= MAX_PARAMS:
            break
        if isinstance(value, str):
            params[key] = value[:MAX_VALUE]
    refused = await replay.verdict(signature, url, params)
    if refused is not None:
        await _reject(request, refused, params.get("CallSid") or params.get("MessageSid") or "")
        raise PermissionDeniedException("Invalid Twilio signature.")
    return config, params


async def _reject(request: Request[Any, Any, Any], reason: str, detail: str = "") -> None:
    await rejections.record(reason, source=reqctx.client_ip.get() or (request.client.host if request.client else ""),
                            path=request.url.path, detail=detail)


async def store(kind: str, sid: str, dedupe_key: str, params: dict[str, str],
                meta: dict[str, Any] | None = None) -> int | None:
    """Insert the raw webhook and queue its processing; a redelivery (same dedupe key) inserts and queues nothing."""
    row = await current_uow().connection.fetchrow(
        "INSERT INTO twilio_webhook (kind, sid, dedupe_key, params, meta, received_at, attempts, last_error) "
        "VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, now(), 0, '') ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        kind, sid[:64], dedupe_key[:200], json.dumps(params), json.dumps(meta or {}))
    if row is None:
        return None
    await jobs.enqueue(JOB, {"webhook_id": row["id"]})
    return int(row["id"])


async def problems(limit: int = PROBLEMS_SHOWN) -> dict[str, list[dict[str, Any]]]:
    """What an admin must see, newest first: stored webhooks whose processing failed (kept; retried with back-off,
    then held until someone retries them) and the errors Twilio reported through the voice fallback URL."""
    conn = current_uow().connection
    failing = await conn.fetch(
        "SELECT id, kind, sid, received_at, attempts, last_error FROM twilio_webhook "
        "WHERE processed_at IS NULL AND attempts > 0 ORDER BY id DESC LIMIT $1", limit)
    reported = await conn.fetch(
        "SELECT id, sid, received_at, params->>'ErrorCode' AS error_code, params->>'ErrorUrl' AS error_url "
        "FROM twilio_webhook WHERE kind = 'fallback' ORDER BY id DESC LIMIT $1", limit)
    return {"failing": [dict(r) for r in failing],
            "twilio_errors": [{**dict(r), "error_code": r["error_code"] or "", "error_url": r["error_url"] or ""}
                              for r in reported]}


async def retry(webhook_id: int) -> dict[str, Any]:
    """Queue a failed webhook's processing again (after the job gave up, or once the cause is fixed)."""
    row = await current_uow().connection.fetchrow(
        "SELECT id, kind, sid, processed_at FROM twilio_webhook WHERE id = $1 FOR UPDATE", webhook_id)
    if row is None:
        raise NotFound("No Twilio webhook %(webhook_id)s.", webhook_id=webhook_id)
    if row["processed_at"] is not None:
        raise Conflict("Twilio webhook %(webhook_id)s was processed already.", webhook_id=webhook_id)
    await jobs.enqueue(JOB, {"webhook_id": webhook_id})
    return {"id": webhook_id, "kind": row["kind"], "sid": row["sid"], "queued": True}
