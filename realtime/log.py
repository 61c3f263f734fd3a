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
import structlog

from app.lib.db import current_tenant, current_uow
from realtime.events import Event

log = structlog.get_logger(__name__)

KEEP_EVENTS = 10_000
"""Events kept per tenant; older ones are trimmed (a console that missed more gets a full refresh)."""
MAX_AGE = dt.timedelta(hours=24)
"""Events older than this are trimmed whatever their number."""
TRIM_EVERY = 500
"""Trim when an event id is a multiple of this: one cheap DELETE per 500 events, off the request path."""
CAP_EVENTS = 1_000_000
"""A durable listener may hold back trimming by at most this many events..."""
CAP_AGE = dt.timedelta(days=7)
"""...or this long; past either, it is parked with an alert and the log is trimmed past it (see realtime.durable)."""

_APPEND = """
WITH seq AS (
    INSERT INTO event_seq (id, last_id) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET last_id = event_seq.last_id + 1
    RETURNING last_id
)
INSERT INTO event_log (id, name, data, channels, at)
SELECT last_id, $1, $2::jsonb, $3::varchar[], clock_timestamp()
FROM seq, (SELECT pg_notify('sb_events', current_schema())) AS wake
RETURNING id, at
"""
# The NOTIFY (sent at commit, once per transaction and schema) wakes the durable listeners (realtime.durable).


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
               names: Iterable[str] | None = None, limit: int = 1000) -> list[Event]:
    """Events with id > after_id (and <= upto), oldest first, optionally only those on `topics` or named `names`."""
    sql = "SELECT id, name, data, channels, at FROM event_log WHERE id > $1"
    args: list[Any] = [after_id]
    if upto is not None:
        args.append(upto)
        sql += f" AND id <= ${len(args)}"
    if topics is not None:
        args.append(list(topics))
        sql += f" AND channels && ${len(args)}::varchar[]"
    if names is not None:
        args.append(list(names))
        sql += f" AND name = ANY(${len(args)}::varchar[])"
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


async def trim(keep: int = KEEP_EVENTS, max_age: dt.timedelta = MAX_AGE, *, cap_events: int = CAP_EVENTS,
               cap_age: dt.timedelta = CAP_AGE) -> int:
    """Drop events beyond the newest `keep` and older than `max_age`, but none that a durable listener still has
    to handle; returns how many went.

    A listener holding the log back by more than `cap_events` or `cap_age` is parked, its cursor moved past what
    is dropped and the loss written in its last error (shown to admins) and logged: the log does not grow forever
    because one listener is stuck.
    """
    conn = current_uow().connection
    wanted = await conn.fetchval(
        """
        SELECT GREATEST(
            (SELECT COALESCE(last_id, 0) FROM event_seq WHERE id = 1) - $1,
            COALESCE((SELECT max(id) FROM event_log WHERE at < clock_timestamp() - $2::interval), 0))
        """, keep, max_age)
    cap = await conn.fetchval(
        """
        SELECT GREATEST(
            (SELECT COALESCE(last_id, 0) FROM event_seq WHERE id = 1) - $1,
            COALESCE((SELECT max(id) FROM event_log WHERE at < clock_timestamp() - $2::interval), 0))
        """, cap_events, cap_age)
    behind = await conn.fetch(
        """
        SELECT name, last_event_id,
               (SELECT count(*) FROM event_log e WHERE e.id > c.last_event_id AND e.id <= $1
                  AND (c.events = '{}' OR e.name = ANY(c.events))) AS dropped
        FROM listener_cursor c WHERE c.last_event_id < $1 FOR UPDATE
        """, cap)
    for row in behind:
        if row["dropped"]:
            log.warning("durable_listener_fell_behind", tenant=current_tenant().slug, listener=row["name"],
                        cursor=row["last_event_id"], dropped=row["dropped"], upto=cap)
    await conn.execute(
        """
        UPDATE listener_cursor c SET state = 'parked', last_event_id = $1::bigint, updated_at = now(),
            last_error = 'Fell too far behind the event log: ' || x.dropped || ' events up to #' || $1::bigint
                         || ' were dropped unhandled.'
        FROM (SELECT unnest($2::varchar[]) AS name, unnest($3::bigint[]) AS dropped) x
        WHERE c.name = x.name AND x.dropped > 0
        """, cap, [r["name"] for r in behind], [r["dropped"] for r in behind])
    # A listener whose cursor is below the cap but with nothing it wants there just moves along.
    await conn.execute("UPDATE listener_cursor SET last_event_id = $1 WHERE last_event_id < $1", cap)
    floor = await conn.fetchval(
        """
        SELECT min(COALESCE((SELECT min(e.id) - 1 FROM event_log e WHERE e.id > c.last_event_id
                               AND (c.events = '{}' OR e.name = ANY(c.events))), $1))
        FROM listener_cursor c
        """, wanted)
    upto = min(wanted, floor if floor is not None else wanted)
    status = await conn.execute("DELETE FROM event_log WHERE id <= $1", upto)
    return int(status.split()[-1])
