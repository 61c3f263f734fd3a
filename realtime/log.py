"""The per-tenant event log in Postgres: the source of truth for replay, bounded by count and age.

Ids come from a one-row counter updated in the publishing transaction, not from a sequence: the row lock is held
until commit, so ids are gap-free and in commit order. A reader that sees event N therefore knows every event
below N is committed too, which is what lets the hub fill gaps from here without losing or reordering anything.
The price is that event-writing transactions of one tenant commit one after another from their first publish
on; publish as the last write of a unit of work.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

import msgspec

from app.lib.db import current_tenant, current_uow
from realtime.events import Event

KEEP_EVENTS = 10_000
"""Events kept per tenant; older ones are trimmed (a console that missed more gets a full refresh)."""
MAX_AGE = dt.timedelta(hours=24)
"""Events older than this are trimmed whatever their number."""
TRIM_EVERY = 500
"""Trim when an event id is a multiple of this: one cheap DELETE per 500 events, off the request path."""

_APPEND = """
WITH seq AS (
    INSERT INTO event_seq (id, last_id) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET last_id = event_seq.last_id + 1
    RETURNING last_id
)
INSERT INTO event_log (id, name, data, channels, at)
SELECT last_id, $1, $2::jsonb, $3::varchar[], clock_timestamp() FROM seq
RETURNING id, at
"""


@dataclasses.dataclass(frozen=True)
class Bounds:
    last_id: int
    """The newest id handed out (0: none yet)."""
    oldest_id: int | None
    """The oldest id still kept (None: the log is empty)."""

    def can_replay_after(self, last_seen: int) -> bool:
        """Whether every event after `last_seen` is still in the log (ids are gap-free)."""
        if last_seen > self.last_id or last_seen < 0:
            return False  # a cursor from another database or a reset tenant
        if last_seen == self.last_id:
            return True
        return self.oldest_id is not None and self.oldest_id <= last_seen + 1


async def append(name: str, data: dict[str, Any], topics: Iterable[str]) -> Event:
    """Insert one event in the open unit of work and return it with its id."""
    topics = tuple(topics)
    row = await current_uow().connection.fetchrow(_APPEND, name, msgspec.json.encode(data).decode(), list(topics))
    return Event(id=row["id"], name=name, tenant=current_tenant().slug, at=row["at"], data=data, channels=topics)


async def read(after_id: int, *, upto: int | None = None, topics: Iterable[str] | None = None,
               limit: int = 1000) -> list[Event]:
    """Events with id > after_id (and <= upto), oldest first, optionally only those on `topics`."""
    sql = "SELECT id, name, data, channels, at FROM event_log WHERE id > $1"
    args: list[Any] = [after_id]
    if upto is not None:
        args.append(upto)
        sql += f" AND id <= ${len(args)}"
    if topics is not None:
        args.append(list(topics))
        sql += f" AND channels && ${len(args)}::varchar[]"
    args.append(limit)
    sql += f" ORDER BY id LIMIT ${len(args)}"
    rows = await current_uow().connection.fetch(sql, *args)
    slug = current_tenant().slug
    return [Event(id=r["id"], name=r["name"], tenant=slug, at=r["at"], data=msgspec.json.decode(r["data"]),
                  channels=tuple(r["channels"])) for r in rows]


async def bounds() -> Bounds:
    row = await current_uow().connection.fetchrow(
        "SELECT (SELECT last_id FROM event_seq WHERE id = 1) AS last_id, (SELECT min(id) FROM event_log) AS oldest")
    return Bounds(last_id=row["last_id"] or 0, oldest_id=row["oldest"])


async def current_id() -> int:
    """The newest event id of the tenant: embed it in a page so its socket replays from there."""
    return (await bounds()).last_id


async def trim(keep: int = KEEP_EVENTS, max_age: dt.timedelta = MAX_AGE) -> int:
    """Drop events beyond the newest `keep` and older than `max_age`; returns how many went."""
    status = await current_uow().connection.execute(
        """
        DELETE FROM event_log WHERE id <= GREATEST(
            (SELECT COALESCE(last_id, 0) FROM event_seq WHERE id = 1) - $1,
            COALESCE((SELECT max(id) FROM event_log WHERE at < clock_timestamp() - $2::interval), 0))
        """, keep, max_age)
    return int(status.split()[-1])
