"""What the security console shows: the latest rejected requests and their counts per day and reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.lib import clock, i18n
from app.lib.db import current_uow
from app.security.rejections import REASONS

LATEST = 200
"""Rejections listed at most (newest first)."""
DAYS = 14
"""Days the page counts back."""


def reason_text(reason: str) -> str:
    label = REASONS.get(reason)
    return i18n.gettext(label) if label else reason


async def latest(*, since: dt.datetime | None = None, limit: int = LATEST) -> list[dict[str, Any]]:
    """Rejected requests kept in full, newest first (a flood past the cap is only counted, see `per_day`)."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    rows = await current_uow().connection.fetch(
        "SELECT id, reason, source, path, detail, at FROM security_rejection "
        "WHERE ($1::timestamptz IS NULL OR at >= $1) ORDER BY at DESC, id DESC LIMIT $2", since, limit)
    return [dict(r) for r in rows]


async def per_day(*, days: int = DAYS) -> list[dict[str, Any]]:
    """Counts per day (in the viewer's zone) and reason, newest day first: `count` every rejection, `dropped` those
    past the per-minute cap that were not kept in full."""
    zone = i18n.current().zone.key
    since = clock.now() - dt.timedelta(days=days)
    rows = await current_uow().connection.fetch(
        "SELECT (minute AT TIME ZONE $1)::date AS day, reason, sum(recorded + dropped)::int AS count, "
        "sum(dropped)::int AS dropped FROM security_rejection_minute WHERE minute >= $2 "
        "GROUP BY 1, 2 ORDER BY 1 DESC, 3 DESC, 2", zone, since)
    return [{**dict(r), "label": reason_text(r["reason"])} for r in rows]
