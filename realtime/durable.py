"""Durable listeners: reactions to committed events that are not about showing something (notify, automate,
deliver, count), run by the worker with a cursor per tenant over the event log.

A handler runs inside the tenant's unit of work that also moves the listener's cursor, so its database effects
(rows written, jobs enqueued) commit together with the cursor: a worker killed mid-batch rolls both back and the
next run handles the same events again. Each event is handled at least once and, for database effects, exactly
once in effect. An effect outside the database goes through a job the handler enqueues (use
`dedupe_key=f"{listener}:{event.id}"` when the same job could be queued twice). The cursor is a log position
(last_tx, last_event_id); a batch reads only final events (below the safe horizon, see realtime.log), and when
committed events wait above the horizon the tenant is visited again shortly.

A handler that raises: the events before it commit with the cursor, the failing one is retried with doubling
back-off, and after `max_attempts` in a row the listener is parked for that tenant (state, error and lag are
shown to admins, who resume it). Other listeners and other tenants carry on.

Wake-up: every unit of work that published sends `NOTIFY sb_events, '<schema>'` right after its commit (not in
it: see realtime.log), so the runner only visits tenants that have something new; retries are timed in memory.
Every tenant is swept at start, after the LISTEN connection was lost (notifications sent meanwhile are gone) and
every few minutes as a safety net; an idle tenant costs one short transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import asyncpg
import structlog

from app.lib.db import TenantRef, current_uow, raw_connect, tenant_context
from app.lib.engine import DB
from app.lib.lru import LRU
from realtime import log as event_log
from realtime.events import CATALOGUE, Event, Position, check_name

log = structlog.get_logger(__name__)

WAKE_CHANNEL = event_log.WAKE_CHANNEL
"""Postgres NOTIFY channel; the payload is the tenant's schema (sent by realtime.publish after each commit)."""
BATCH = 100
"""Events handled per transaction."""
HELD_BACK_RETRY = 0.2
"""Seconds before visiting a tenant again whose newest events wait above the horizon (an older transaction)."""
ENSURED_KEPT = 4096
"""Schemas whose cursor rows this process knows exist (most recently run first); one it forgot is checked again, a
cheap idempotent insert: the set must not grow with every tenant the process has swept."""

Handler = Callable[[Event], Awaitable[None]]


@dataclasses.dataclass(frozen=True)
class DurableListener:
    """A reaction a domain's manifest declares (app/domains.py collects them): `handler(event)` runs in the tenant's
    unit of work."""

    name: str
    handler: Handler
    events: frozenset[str]
    """The event names it reacts to; the cursor moves over the others without calling it."""
    doc: str = ""


_DECLARED: dict[str, DurableListener] = {}
"""The process's durable listeners by name, handed in at start-up from the domains' manifests (app/domains.py)."""


def declare_listeners(listeners: Iterable[DurableListener]) -> None:
    """Make listeners known to the process (the admin pages list them with their docs); idempotent."""
    for listener in listeners:
        check_subscription(listener)
        _DECLARED[listener.name] = listener


def docs() -> dict[str, str]:
    """What each declared listener does, by name."""
    return {li.name: li.doc for li in _DECLARED.values()}


def check_subscription(listener: DurableListener) -> None:
    """A durable listener subscribes to declared, non-ephemeral events (typing indicators are for consoles only)."""
    for name in listener.events:
        check_name(name)
        if CATALOGUE[name].ephemeral:
            raise ValueError(f"{listener.name}: {name} is live-only; durable listeners cannot subscribe to it")


@dataclasses.dataclass(frozen=True)
class Backoff:
    base: float = 1.0
    """Seconds before the first retry; doubles per failure in a row."""
    cap: float = 300.0
    max_attempts: int = 8
    """Failures in a row before the listener is parked for that tenant."""

    def delay(self, attempts: int) -> float:
        return float(min(self.cap, self.base * 2 ** max(0, attempts - 1)))


# -- per tenant: call inside tenant_context ---------------------------------------------------------------------

async def ensure_cursors(listeners: Iterable[DurableListener]) -> None:
    """Give each listener a cursor in the current tenant: a new one starts at the log's current end (a listener
    that must see history ships a migration inserting its row, as the order notifier does)."""
    items = list(listeners)
    end = (await event_log.bounds()).last
    await current_uow().connection.execute(
        """
        INSERT INTO listener_cursor (name, events, last_tx, last_event_id)
        SELECT x.name, string_to_array(x.events, ' ')::varchar[], $3::xid8, $4::bigint
        FROM unnest($1::varchar[], $2::text[]) AS x(name, events)
        ON CONFLICT (name) DO UPDATE SET events = EXCLUDED.events
            WHERE listener_cursor.events IS DISTINCT FROM EXCLUDED.events
        """, [li.name for li in items], [" ".join(sorted(li.events)) for li in items], end.tx, end.id)


@dataclasses.dataclass(frozen=True)
class BatchResult:
    more: bool = False
    """More events may be waiting: run another batch now."""
    retry_in: float | None = None
    """Seconds until a failed event is due again."""


async def run_batch(listener: DurableListener, backoff: Backoff, batch: int = BATCH) -> BatchResult:
    """Handle the next batch of the current tenant's events for `listener`. Skips quietly when another worker
    holds the cursor, when the listener is parked, or when its retry is not due yet."""
    conn = current_uow().connection
    row = await conn.fetchrow(
        "SELECT last_tx, last_event_id, state, attempts, next_attempt_at, clock_timestamp() AS now "
        "FROM listener_cursor WHERE name = $1 FOR UPDATE SKIP LOCKED", listener.name)
    if row is None or row["state"] != "active":
        return BatchResult()
    if row["next_attempt_at"] is not None and row["next_attempt_at"] > row["now"]:
        return BatchResult(retry_in=(row["next_attempt_at"] - row["now"]).total_seconds())
    cursor = Position(row["last_tx"], row["last_event_id"])
    upto = (await event_log.bounds()).last
    if upto > cursor:
        events = await event_log.read(cursor, upto=upto, names=sorted(listener.events), limit=batch)
        for event in events:
            try:
                async with conn.transaction():  # a savepoint: a failing handler leaves nothing half-written
                    await listener.handler(event)
            except Exception as exc:
                return await _failed(listener, backoff, cursor, row["attempts"] + 1, event, exc)
            cursor = event.position
        more = len(events) == batch
        done = cursor if more else upto
        await conn.execute(
            "UPDATE listener_cursor SET last_tx = $2, last_event_id = $3, attempts = 0, next_attempt_at = NULL, "
            "updated_at = now() WHERE name = $1", listener.name, done.tx, done.id)
        if more:
            return BatchResult(more=True)
    # Committed events above the horizon (an older transaction is still open): look again shortly, no NOTIFY
    # will say when that transaction ends.
    return BatchResult(retry_in=HELD_BACK_RETRY if await event_log.has_unsafe_after(max(upto, cursor)) else None)


async def _failed(listener: DurableListener, backoff: Backoff, cursor: Position, attempts: int, event: Event,
                  exc: Exception) -> BatchResult:
    parked = attempts >= backoff.max_attempts
    error = f"Event #{event.id} ({event.name}, at {event.position}): {type(exc).__name__}: {exc}"[:2000]
    await current_uow().connection.execute(
        """
        UPDATE listener_cursor SET last_tx = $7, last_event_id = $2, attempts = $3, state = $4::varchar,
            last_error = $5, updated_at = now(),
            next_attempt_at = CASE WHEN $4::varchar = 'active' THEN clock_timestamp() + make_interval(secs => $6) END
        WHERE name = $1
        """, listener.name, cursor.id, attempts, "parked" if parked else "active", error, backoff.delay(attempts),
        cursor.tx)
    (log.error if parked else log.warning)(
        "durable_listener_parked" if parked else "durable_listener_failed", listener=listener.name,
        tenant=event.tenant, event_id=event.id, attempts=attempts, error=error)
    return BatchResult(retry_in=None if parked else backoff.delay(attempts))


async def pending() -> list[str]:
    """Active listeners of the current tenant that are behind the log's end (due or backing off)."""
    rows = await current_uow().connection.fetch(
        "SELECT name FROM listener_cursor WHERE state = 'active' "
        "AND (last_tx, last_event_id) < (SELECT tx, id FROM event_log ORDER BY tx DESC, id DESC LIMIT 1)")
    return [r["name"] for r in rows]


async def status(docs: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every listener's cursor (a position string) in the current tenant with its lag (events after the cursor it
    has to handle)."""
    rows = await current_uow().connection.fetch(
        """
        SELECT c.name, c.last_tx::text || '.' || c.last_event_id AS cursor, c.state, c.attempts,
               c.next_attempt_at, c.last_error, c.updated_at,
               (SELECT count(*) FROM event_log e WHERE (e.tx, e.id) > (c.last_tx, c.last_event_id)
                  AND (c.events = '{}' OR e.name = ANY(c.events))) AS lag
        FROM listener_cursor c ORDER BY c.name
        """)
    return [dict(r) | {"doc": (docs or {}).get(r["name"], "")} for r in rows]


async def resume(name: str) -> bool:
    """Put a parked (or backing-off) listener back to work at once; False when the tenant has no such listener."""
    status = await current_uow().connection.execute(
        "UPDATE listener_cursor SET state = 'active', attempts = 0, next_attempt_at = NULL, updated_at = now() "
        "WHERE name = $1", name)
    if status.endswith(" 0"):
        return False
    await current_uow().connection.execute("SELECT pg_notify($1, current_schema())", WAKE_CHANNEL)
    return True


# -- the runner ------------------------------------------------------------------------------------------------

async def _tenants(schemas: Sequence[str] | None = None) -> list[TenantRef]:
    sql = "SELECT id, slug, schema_name, name FROM public.tenant WHERE status = 'active'"
    async with DB.pool.acquire() as conn:
        if schemas is None:
            rows = await conn.fetch(sql + " ORDER BY id")
        else:
            rows = await conn.fetch(sql + " AND schema_name = ANY($1::varchar[]) ORDER BY id", list(schemas))
    return [TenantRef(id=r["id"], slug=r["slug"], schema=r["schema_name"], name=r["name"]) for r in rows]


class Spine:
    """Runs the durable listeners for every tenant until stopped: in `switchboard worker` and the embedded
    worker, beside the job worker. Several may run at once: a cursor row is locked while its batch runs."""

    def __init__(self, dsn: str | None, listeners: Sequence[DurableListener], *, backoff: Backoff | None = None,
                 sweep_seconds: float = 300.0, batch: int = BATCH) -> None:
        for listener in listeners:
            check_subscription(listener)
        self.dsn = dsn
        self.listeners = list(listeners)
        self.backoff = backoff or Backoff()
        self.sweep_seconds = sweep_seconds
        self.batch = batch
        self._dirty: set[str] = set()
        self._all = True
        self._wake = asyncio.Event()
        self._retry_at: dict[str, float] = {}
        self._ensured: LRU[str, bool] = LRU(ENSURED_KEPT)
        self._task: asyncio.Task[None] | None = None
        self._listen_task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._listen_task = asyncio.create_task(self._listen_forever())
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stopping = True
        for task in (self._task, self._listen_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def status(self) -> str:
        """For /health: `ok` while both loops run (a lost connection is retried inside them, not a dead loop)."""
        for name, task in (("runner", self._task), ("listener", self._listen_task)):
            if task is None:
                return "error: not started"
            if task.done():
                return f"error: {name} loop ended"
        return "ok"

    def wake(self, schema: str | None = None) -> None:
        if schema is None:
            self._all = True
        else:
            self._dirty.add(schema)
        self._wake.set()

    async def _listen_forever(self) -> None:
        """LISTEN on a dedicated connection; reconnect with doubling back-off, and sweep every tenant after a
        reconnect (notifications sent while disconnected are lost)."""
        delay = 0.5
        while not self._stopping:
            conn = None
            try:
                conn = await raw_connect(self.dsn)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(WAKE_CHANNEL, lambda _c, _pid, _ch, payload: self.wake(payload))
                self.wake()
                delay = 0.5
                while not lost.is_set():  # asyncpg reports a dropped socket only when it next reads from it
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), timeout=5)
                    if not lost.is_set():
                        await conn.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("spine_listen_lost", error=str(exc), retry_in=delay)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _run(self) -> None:
        next_sweep = time.monotonic()
        delay = 0.5
        while not self._stopping:
            now = time.monotonic()
            due = {s for s, t in self._retry_at.items() if t <= now}
            if now >= next_sweep:
                self._all = True
            try:
                if self._all:
                    self._all = False
                    self._dirty.clear()
                    next_sweep = now + self.sweep_seconds
                    tenants = await _tenants()
                else:
                    schemas = self._dirty | due
                    self._dirty = set()
                    tenants = await _tenants(sorted(schemas)) if schemas else []
                for schema in due:
                    self._retry_at.pop(schema, None)
                for tenant in tenants:
                    try:
                        await self.run_tenant(tenant)
                    except (asyncio.CancelledError, OSError, asyncpg.exceptions.ConnectionDoesNotExistError):
                        raise
                    except Exception as exc:  # one broken schema must not hold up the other tenants
                        log.exception("spine_tenant_failed", tenant=tenant.slug, error=str(exc))
                        self._retry_at[tenant.schema] = time.monotonic() + self.sweep_seconds
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: keep what was asked for and try again later
                log.warning("spine_pass_failed", error=str(exc), retry_in=delay)
                self._all = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            wait = next_sweep - time.monotonic()
            if self._retry_at:
                wait = min(wait, min(self._retry_at.values()) - time.monotonic())
            self._wake.clear()
            if not (self._dirty or self._all):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(0.01, wait))

    async def run_tenant(self, tenant: TenantRef) -> None:
        """Bring every listener of one tenant up to the log's end (or to its failure). One short transaction finds
        the listeners with something to do, so an idle tenant costs one round trip."""
        async with tenant_context(tenant):
            if tenant.schema not in self._ensured:
                await ensure_cursors(self.listeners)
            busy = set(await pending())
        self._ensured[tenant.schema] = True
        for listener in self.listeners:
            if listener.name not in busy:
                continue
            result = BatchResult(more=True)
            while result.more and not self._stopping:
                async with tenant_context(tenant):
                    result = await run_batch(listener, self.backoff, self.batch)
            if result.retry_in is not None:
                when = time.monotonic() + result.retry_in
                self._retry_at[tenant.schema] = min(self._retry_at.get(tenant.schema, when), when)
