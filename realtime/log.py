"""The per-tenant event log in Postgres: the source of truth for replay, bounded by count and age.

Ids come from a sequence and every row records its writing transaction, `tx xid8 DEFAULT pg_current_xact_id()`;
an event's position is (tx, id), ordered as a pair. Writers never wait on each other for ids. Sequence values are
not handed out in commit order, so a reader only reads below the *safe horizon*: rows whose `tx` is below
`pg_snapshot_xmin(pg_current_snapshot())` (leaving out transactions of other databases, see HORIZON). Every
transaction below it has ended, and a transaction that starts later gets a larger xid, so no row can ever appear
at a position below one a reader has already passed: replay after any delivered position is exact (nothing
skipped, nothing twice). The horizon is read in the same statement (same snapshot) as the rows.

The price: a transaction left open anywhere in the app's database holds the horizon, so events committed after
it are delivered only once it ends (connections set `idle_in_transaction_session_timeout`, app.lib.db).
See docs/architecture.md, "Event ids and the safe horizon".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import structlog

from app.lib.db import current_tenant, current_uow
from realtime.events import START, BadPosition, Event, Position

log = structlog.get_logger(__name__)

__all__ = [
    "HORIZON",
    "START",
    "WAKE_CHANNEL",
    "BadPosition",
    "Bounds",
    "Position",
    "append",
    "append_many",
    "bounds",
    "current_id",
    "has_unsafe_after",
    "newest",
    "position_of",
    "read",
    "replayable",
    "trim",
]

KEEP_EVENTS = 10_000
"""Events kept per tenant; older ones are trimmed (a console that missed more gets a full refresh)."""
MAX_AGE = dt.timedelta(hours=24)
"""Events older than this are trimmed whatever their number."""
TRIM_EVERY = 500
"""Trim when an event id is a multiple of this: one cheap DELETE per ~500 events, off the request path."""
CAP_EVENTS = 1_000_000
"""A durable listener may hold back trimming by at most this many events..."""
CAP_AGE = dt.timedelta(days=7)
"""...or this long; past either, it is parked with an alert and the log is trimmed past it (see realtime.durable)."""

HORIZON = """LEAST(pg_snapshot_xmax(pg_current_snapshot()), (
    SELECT min(x) FROM pg_snapshot_xip(pg_current_snapshot()) x
    WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.backend_xid = x::xid
                      AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database()))))"""
"""The safe horizon of the statement's snapshot: every transaction with a smaller id has ended (committed or rolled
back) or runs in another database of the cluster, so event rows below it are final and visible.

It is `pg_snapshot_xmin(pg_current_snapshot())` minus the transactions known to belong to another database (a
DROP DATABASE or a migration of another app on the same server must not hold back delivery here): an in-progress
xid counts as foreign only when pg_stat_activity shows it on a backend of another database. One that ended
meanwhile, or that this role may not see, is not found and so still counts: the horizon can only err low.
Constant SQL, spliced into the queries below."""

_APPEND = """
INSERT INTO event_log (name, data, channels, at)
VALUES ($1, $2::jsonb, $3::varchar[], clock_timestamp())
RETURNING id, tx, at
"""
WAKE_CHANNEL = "sb_events"
"""Postgres NOTIFY channel that wakes the durable listeners; the payload is the tenant's schema."""
# No NOTIFY in the writing transaction: PostgreSQL serialises the commits of transactions that sent one (a
# cluster-wide lock held through the commit's WAL flush), which halved the writers' rate. realtime.publish wakes
# the durable listeners after the commit instead (`wake`).

_BOUNDS = """
SELECT l.tx AS last_tx, l.id AS last_id, o.tx AS oldest_tx, o.id AS oldest_id,
       COALESCE(f.tx, '0'::xid8) AS floor_tx, COALESCE(f.seq, 0) AS floor_id
FROM (SELECT 1) one
LEFT JOIN event_log_floor f ON f.id = 1
LEFT JOIN LATERAL (SELECT tx, id FROM event_log WHERE tx < HORIZON_
                   ORDER BY tx DESC, id DESC LIMIT 1) l ON true
LEFT JOIN LATERAL (SELECT tx, id FROM event_log ORDER BY tx, id LIMIT 1) o ON true
""".replace("HORIZON_", HORIZON)


@dataclasses.dataclass(frozen=True)
class Bounds:
    last: Position
    """The newest safe position: every event up to it is final (START: none yet)."""
    oldest: Position | None
    """The oldest event still kept (None: the log is empty)."""
    floor: Position = START
    """The newest position trimmed away: replay after anything below it would miss events."""

    def can_replay_after(self, last_seen: Position) -> bool:
        """Whether every event after `last_seen` is still in the log (`replayable` also checks that the log
        handed it out)."""
        # Above `last`: a cursor from another database or a reset tenant. Below the floor: events were trimmed.
        return self.floor <= last_seen <= self.last


def position_of(raw: str | None) -> Position | None:
    """A cursor from a browser or an API client, or None when it is not one (cannot replay: refresh)."""
    if raw is None:
        return None
    try:
        return Position.parse(raw)
    except BadPosition:
        return None


async def append(name: str, data: dict[str, Any], topics: Iterable[str]) -> Event:
    """Insert one event in the open unit of work and return it with its position; takes no lock."""
    topics = tuple(topics)
    row = await current_uow().connection.fetchrow(_APPEND, name, msgspec.json.encode(data).decode(), list(topics))
    return Event(id=row["id"], tx=row["tx"], name=name, tenant=current_tenant().slug, at=row["at"], data=data,
                 channels=topics)


async def read(after: Position, *, upto: Position | None = None, topics: Iterable[str] | None = None,
               names: Iterable[str] | None = None, limit: int = 1000) -> list[Event]:
    """Final events after `after` (and up to `upto`) in position order, optionally only those on `topics` or
    named `names`. Rows at or above the safe horizon are left for a later read."""
    sql = ("SELECT id, tx, name, data, channels, at FROM event_log WHERE (tx, id) > ($1::xid8, $2::bigint) "
           "AND tx < HORIZON_").replace("HORIZON_", HORIZON)
    args: list[Any] = [after.tx, after.id]
    if upto is not None:
        args += [upto.tx, upto.id]
        sql += f" AND (tx, id) <= (${len(args) - 1}::xid8, ${len(args)}::bigint)"
    if topics is not None:
        args.append(list(topics))
        sql += f" AND channels && ${len(args)}::varchar[]"
    if names is not None:
        args.append(list(names))
        sql += f" AND name = ANY(${len(args)}::varchar[])"
    args.append(limit)
    sql += f" ORDER BY tx, id LIMIT ${len(args)}"
    rows = await current_uow().connection.fetch(sql, *args)
    slug = current_tenant().slug
    return [Event(id=r["id"], tx=r["tx"], name=r["name"], tenant=slug, at=r["at"],
                  data=msgspec.json.decode(r["data"]), channels=tuple(r["channels"])) for r in rows]


async def bounds() -> Bounds:
    row = await current_uow().connection.fetchrow(_BOUNDS)
    floor = Position(row["floor_tx"], row["floor_id"])
    last = Position(row["last_tx"], row["last_id"]) if row["last_id"] is not None else START
    oldest = Position(row["oldest_tx"], row["oldest_id"]) if row["oldest_id"] is not None else None
    return Bounds(last=max(last, floor), oldest=oldest, floor=floor)


async def current_id() -> Position:
    """The tenant's newest safe position: embed it in a page so its socket replays from there."""
    return (await bounds()).last


async def replayable(position: Position, bounds: Bounds) -> bool:
    """Whether this log handed out `position` and still holds everything after it: within `bounds` and either
    the floor or a kept event's position (every cursor a page or socket received is one of those; anything else
    comes from another database or a reset tenant)."""
    if not bounds.can_replay_after(position):
        return False
    if position == bounds.floor:
        return True
    return bool(await current_uow().connection.fetchval(
        "SELECT EXISTS (SELECT 1 FROM event_log WHERE tx = $1::xid8 AND id = $2)", position.tx, position.id))


async def newest() -> Position:
    """The newest position in the log, final or not (START: empty)."""
    row = await current_uow().connection.fetchrow("SELECT tx, id FROM event_log ORDER BY tx DESC, id DESC LIMIT 1")
    return START if row is None else Position(row["tx"], row["id"])


async def has_unsafe_after(after: Position) -> bool:
    """Whether committed events after `after` wait above the horizon (an older transaction is still open)."""
    return bool(await current_uow().connection.fetchval(
        "SELECT EXISTS (SELECT 1 FROM event_log WHERE (tx, id) > ($1::xid8, $2::bigint))", after.tx, after.id))


async def _bound(keep: int, max_age: dt.timedelta) -> Position | None:
    """The newest position to drop for `keep`/`max_age`, never above the newest safe one (None: nothing)."""
    row = await current_uow().connection.fetchrow(
        """
        SELECT k.tx AS k_tx, k.id AS k_id, a.tx AS a_tx, a.id AS a_id, s.tx AS s_tx, s.id AS s_id
        FROM (SELECT 1) one
        LEFT JOIN LATERAL (SELECT tx, id FROM event_log ORDER BY tx DESC, id DESC OFFSET $1 LIMIT 1) k ON true
        LEFT JOIN LATERAL (SELECT tx, id FROM event_log WHERE at < clock_timestamp() - $2::interval
                           ORDER BY tx DESC, id DESC LIMIT 1) a ON true
        LEFT JOIN LATERAL (SELECT tx, id FROM event_log WHERE tx < HORIZON_
                           ORDER BY tx DESC, id DESC LIMIT 1) s ON true
        """.replace("HORIZON_", HORIZON), keep, max_age)
    found = [Position(row[f"{p}_tx"], row[f"{p}_id"]) for p in ("k", "a") if row[f"{p}_id"] is not None]
    if not found or row["s_id"] is None:
        return None
    return min(max(found), Position(row["s_tx"], row["s_id"]))


async def trim(keep: int = KEEP_EVENTS, max_age: dt.timedelta = MAX_AGE, *, cap_events: int = CAP_EVENTS,
               cap_age: dt.timedelta = CAP_AGE) -> int:
    """Drop events beyond the newest `keep` and older than `max_age`, but none that a durable listener still has
    to handle; returns how many went. Only final (below the horizon) events are dropped; the newest position
    dropped becomes the floor (see Bounds.can_replay_after).

    A listener holding the log back by more than `cap_events` or `cap_age` is parked, its cursor moved past what
    is dropped and the loss written in its last error (shown to admins) and logged: the log does not grow forever
    because one listener is stuck.
    """
    conn = current_uow().connection
    wanted = await _bound(keep, max_age)
    if wanted is None:
        return 0
    cap = await _bound(cap_events, cap_age)
    if cap is not None:
        behind = await conn.fetch(
            """
            SELECT name, last_tx, last_event_id,
                   (SELECT count(*) FROM event_log e
                    WHERE (e.tx, e.id) > (c.last_tx, c.last_event_id) AND (e.tx, e.id) <= ($1::xid8, $2::bigint)
                      AND (c.events = '{}' OR e.name = ANY(c.events))) AS dropped
            FROM listener_cursor c WHERE (c.last_tx, c.last_event_id) < ($1::xid8, $2::bigint) FOR UPDATE
            """, cap.tx, cap.id)
        for row in behind:
            if row["dropped"]:
                log.warning("durable_listener_fell_behind", tenant=current_tenant().slug, listener=row["name"],
                            cursor=str(Position(row["last_tx"], row["last_event_id"])), dropped=row["dropped"],
                            upto=str(cap))
        await conn.execute(
            """
            UPDATE listener_cursor c SET state = 'parked', last_tx = $1::xid8, last_event_id = $2::bigint,
                updated_at = now(),
                last_error = 'Fell too far behind the event log: ' || x.dropped || ' events up to '
                             || $1::xid8::text || '.' || $2::bigint || ' were dropped unhandled.'
            FROM (SELECT unnest($3::varchar[]) AS name, unnest($4::bigint[]) AS dropped) x
            WHERE c.name = x.name AND x.dropped > 0
            """, cap.tx, cap.id, [r["name"] for r in behind], [r["dropped"] for r in behind])
        # A listener whose cursor is below the cap but with nothing it wants there just moves along.
        await conn.execute(
            "UPDATE listener_cursor SET last_tx = $1::xid8, last_event_id = $2 "
            "WHERE (last_tx, last_event_id) < ($1::xid8, $2::bigint)", cap.tx, cap.id)
    # The first event some listener still has to handle stays, with everything after it.
    hold = await conn.fetchrow(
        """
        SELECT e.tx, e.id FROM listener_cursor c CROSS JOIN LATERAL (
            SELECT tx, id FROM event_log e WHERE (e.tx, e.id) > (c.last_tx, c.last_event_id)
              AND (c.events = '{}' OR e.name = ANY(c.events)) ORDER BY tx, id LIMIT 1) e
        ORDER BY e.tx, e.id LIMIT 1
        """)
    status = await conn.fetchval(
        """
        WITH gone AS (
            DELETE FROM event_log WHERE (tx, id) <= ($1::xid8, $2::bigint)
              AND ($3::xid8 IS NULL OR (tx, id) < ($3::xid8, $4::bigint))
            RETURNING tx, id),
        top AS (SELECT tx, id FROM gone ORDER BY tx DESC, id DESC LIMIT 1),
        moved AS (
            INSERT INTO event_log_floor AS f (id, tx, seq) SELECT 1, tx, id FROM top
            ON CONFLICT (id) DO UPDATE SET tx = EXCLUDED.tx, seq = EXCLUDED.seq
            WHERE (EXCLUDED.tx, EXCLUDED.seq) > (f.tx, f.seq)
            RETURNING 1)
        SELECT (SELECT count(*) FROM gone) + 0 * (SELECT count(*) FROM moved)
        """, wanted.tx, wanted.id, hold["tx"] if hold else None, hold["id"] if hold else None)
    return int(status)


_APPEND_MANY = """
INSERT INTO event_log (name, data, channels, at)
SELECT u.name, u.data::jsonb, ARRAY(SELECT jsonb_array_elements_text(u.channels::jsonb))::varchar[], clock_timestamp()
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(name, data, channels, ord) ORDER BY u.ord
RETURNING id, tx, at
"""


async def append_many(items: Sequence[tuple[str, dict[str, Any], tuple[str, ...]]]) -> list[Event]:
    """`append` for many events in ONE statement (a group commit's events), in the order given; takes no lock.
    Ids come from the sequence row by row in that order, so the returned rows sorted by id pair with `items`."""
    if not items:
        return []
    enc = msgspec.json.encode
    rows = await current_uow().connection.fetch(
        _APPEND_MANY, [name for name, _, _ in items], [enc(data).decode() for _, data, _ in items],
        [enc(list(topics)).decode() for _, _, topics in items])
    slug = current_tenant().slug
    return [Event(id=row["id"], tx=row["tx"], name=name, tenant=slug, at=row["at"], data=data, channels=topics)
            for row, (name, data, topics) in zip(sorted(rows, key=lambda r: r["id"]), items, strict=True)]
