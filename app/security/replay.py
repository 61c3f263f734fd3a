"""Replayed and stale signed requests. A provider redelivers a request it got no answer to within seconds (Twilio's
retries), and those deliveries are idempotent downstream; the same signed request seen again after
REDELIVERY_WINDOW is someone replaying a captured one. A request carrying its own signed timestamp (Twilio's status
callbacks: `Timestamp`) older than STALE_AFTER is stale, however long ago its twin was forgotten."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
from collections.abc import Mapping

from app.lib import clock
from app.lib.db import current_uow
from app.security import rejections

REDELIVERY_WINDOW = dt.timedelta(minutes=5)
"""The same signed request within this time of the first is a redelivery (accepted; its processing is deduplicated)."""
SEEN_KEPT = dt.timedelta(days=2)
"""How long a digest is remembered; older signed requests with a timestamp are refused as stale anyway."""
STALE_AFTER = dt.timedelta(days=1)
"""A request signed with a `Timestamp` older than this is stale."""
PURGE_BATCH = 500


def digest(signature: str, url: str, params: Mapping[str, str]) -> bytes:
    """What identifies one signed request: its signature, URL and body (parameters in a stable order)."""
    h = hashlib.sha256()
    for part in (signature, url, *(f"{k}={v}" for k, v in sorted(params.items()))):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.digest()


def stale(params: Mapping[str, str]) -> bool:
    """The request's own signed `Timestamp` (RFC 2822) is older than STALE_AFTER."""
    raw = params.get("Timestamp")
    if not raw:
        return False
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return clock.now() - when > STALE_AFTER


async def verdict(signature: str, url: str, params: Mapping[str, str]) -> str | None:
    """None for a fresh request or a redelivery; `rejections.STALE` or `rejections.REPLAYED` otherwise. Remembers
    the request in the current unit of work (a redelivery racing the first waits for it and is a redelivery)."""
    if stale(params):
        return rejections.STALE
    conn = current_uow().connection
    first_at = await conn.fetchval(
        "WITH fresh AS (INSERT INTO security_seen_request (digest, first_at) VALUES ($1, now()) "
        "ON CONFLICT (digest) DO NOTHING RETURNING first_at) "
        "SELECT coalesce((SELECT first_at FROM fresh), (SELECT first_at FROM security_seen_request "
        "WHERE digest = $1))", digest(signature, url, params))
    await conn.execute(
        "DELETE FROM security_seen_request WHERE digest IN (SELECT digest FROM security_seen_request "
        "WHERE first_at < now() - $1::interval LIMIT $2)", SEEN_KEPT, PURGE_BATCH)
    if first_at is not None and clock.now() - first_at > REDELIVERY_WINDOW:
        return rejections.REPLAYED
    return None
