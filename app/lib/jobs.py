"""Background jobs on PgQueuer: enqueued on the unit of work's own connection, so the job commits (or not)
together with the data it belongs to. Jobs carry the tenant slug and re-enter `tenant_context` to run.

PgQueuer's objects live in `public` (PGQUEUER_SCHEMA), so its queries are schema-qualified and work from inside
a tenant transaction whose search_path names only the tenant's schema.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any

import msgspec
import structlog

os.environ.setdefault("PGQUEUER_SCHEMA", "public")

import asyncpg
from pgqueuer import Queries, QueueManager
from pgqueuer.adapters.drivers.asyncpg import Relay
from pgqueuer.core.tm import TaskManager
from pgqueuer.errors import RetryRequested
from pgqueuer.executors import DatabaseRetryEntrypointExecutor, EntrypointExecutorParameters
from pgqueuer.models import Job
from pgqueuer.ports.driver import NotifyCallback

from app.lib import clock, i18n
from app.lib.backoff import Backoff
from app.lib.db import current_tenant, current_uow, raw_connect
from app.settings import get_settings

log = structlog.get_logger(__name__)

_QUEUE_TABLE = Queries(driver=None).qbq.qualified.queue_table  # type: ignore[arg-type]
QUEUE_TABLE = _QUEUE_TABLE
"""PgQueuer's job table, schema-qualified (for a query that asks which jobs are queued or running)."""

JobFn = Callable[[dict[str, Any]], Awaitable[None]]


@dataclasses.dataclass(frozen=True)
class JobSpec:
    fn: JobFn
    max_attempts: int = 8
    """Retries with exponential back-off (1 s doubling, capped at 5 minutes); after that the job is held as failed."""


_REGISTRY: dict[str, JobSpec] = {}
"""Every job the process knows, by entrypoint name. Filled by `register()`, which app/jobs.py calls on import: lib
holds the registry, the composition roots (app.asgi, app.cli, the tests) import app.jobs to fill it."""


def register(jobs: Mapping[str, JobSpec]) -> None:
    """Add jobs to the registry that `enqueue` checks names against and `Worker` runs."""
    _REGISTRY.update(jobs)


async def enqueue(entrypoint: str, payload: dict[str, Any], *, delay: timedelta | None = None,
                  dedupe_key: str | None = None) -> int | None:
    """Queue `entrypoint` for the current tenant inside the current transaction. With `dedupe_key`, a job with
    that key still queued or running is kept and nothing is added (returns None)."""
    if entrypoint not in _REGISTRY:
        raise KeyError(f"unknown job {entrypoint!r}: register it in app/jobs.py (and import app.jobs at start-up)")
    body = {"tenant": current_tenant().slug, **payload}
    queries = Queries.from_asyncpg_connection(current_uow().connection)
    if dedupe_key is None:
        ids = await queries.enqueue(entrypoint, msgspec.json.encode(body), execute_after=delay)
        return int(ids[0])
    # "skip" rather than raising: a unique violation would abort the caller's transaction.
    maybe = await queries.enqueue(entrypoint, msgspec.json.encode(body), execute_after=delay, dedupe_key=dedupe_key,
                                  on_conflict="skip")
    return None if maybe[0] is None else int(maybe[0])


async def enqueue_nightly(entrypoint: str, *, hour: int, zone: tzinfo, key: str, after: datetime | None = None,
                          payload: dict[str, Any] | None = None) -> datetime:
    """Queue `entrypoint` for the next `hour`:00 on `zone`'s wall clock after `after` (default now), at most once a
    night: the dedupe key is `<key>:<that night's date>`, so every caller of the same night adds nothing more.
    Returns when it runs (nightly recomputes and purges of the domains)."""
    current = clock.now()
    base = (after or current).astimezone(zone)
    run = base.replace(hour=hour, minute=0, second=0, microsecond=0)
    if run <= base:
        run += timedelta(days=1)
    night = run.date().isoformat()
    await enqueue(entrypoint, {**(payload or {}), "night": night}, delay=run - current, dedupe_key=f"{key}:{night}")
    return run


async def pending(dedupe_key: str) -> bool:
    """Whether a job with `dedupe_key` is queued or running (on the current unit of work's connection)."""
    return bool(await current_uow().connection.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM {_QUEUE_TABLE} WHERE dedupe_key = $1 "  # noqa: S608
        "AND status IN ('queued', 'picked'))", dedupe_key))


async def depth() -> dict[str, int]:
    """The queue as /health shows it: jobs ready to run, running (picked), held after their last attempt, and the
    age in seconds of the oldest ready one (0 when none waits)."""
    sql = (  # noqa: S608 (the table name is PgQueuer's own constant)
           "SELECT count(*) FILTER (WHERE status = 'queued' AND execute_after <= now()) AS ready, "
           "count(*) FILTER (WHERE status = 'picked') AS running, count(*) FILTER (WHERE status = 'failed') AS held, "
           "coalesce(extract(epoch FROM now() - min(execute_after) FILTER (WHERE status = 'queued' "
           "AND execute_after <= now()))::int, 0) AS oldest_ready_seconds FROM ") + _QUEUE_TABLE
    row = await current_uow().connection.fetchrow(sql)
    return dict(row)


def decode(job: Job) -> dict[str, Any]:
    return msgspec.json.decode(job.payload or b"{}")


async def install_queue(dsn: str | None = None) -> None:
    conn = await raw_connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock(727275)")
        queries = Queries.from_asyncpg_connection(conn)
        if not await queries.schema_is_installed():
            await queries.install(create_schema=False)
        await conn.execute("SELECT pg_advisory_unlock(727275)")
    finally:
        await conn.close()


class Interrupted(Exception):
    """Raised by `checkpoint()` in a job whose worker is stopping."""


_stopping: contextvars.ContextVar[asyncio.Event | None] = contextvars.ContextVar("sb_worker_stopping", default=None)


def checkpoint() -> None:
    """Long jobs call this between committed steps (an import between batches): when the worker is stopping, the
    job goes back to the queue at once and the next worker resumes it from its last committed step, instead of
    holding the stop up or being cancelled halfway through a step."""
    stopping = _stopping.get()
    if stopping is not None and stopping.is_set():
        raise Interrupted


def _connection_lost(conn: asyncpg.Connection | None) -> bool:
    return conn is None or conn.is_closed()


class QueueConnection:
    """PgQueuer's driver on one dedicated connection (LISTEN needs one) that comes back when PostgreSQL drops it.

    A statement that finds the connection gone reconnects with back-off (logged through `Backoff`), LISTENs again
    and runs once more: every statement PgQueuer sends is safe to repeat (a dequeue whose answer was lost leaves
    jobs picked with no heartbeat, which any worker picks again after JOB_HEARTBEAT_SECONDS). `give_up()` makes it
    raise instead of waiting, for a stop that cannot wait for the database any longer.
    """

    def __init__(self, dsn: str | None) -> None:
        self.dsn = dsn
        self.backoff = Backoff("job_queue")
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._listeners: list[tuple[str, NotifyCallback]] = []
        self._shutdown = asyncio.Event()
        self._give_up = asyncio.Event()

    @property
    def connected(self) -> bool:
        return not _connection_lost(self._conn)

    async def connect(self) -> None:
        async with self._lock:
            await self._connected()

    async def _connected(self) -> asyncpg.Connection:
        """The live connection, reconnecting until it works (the caller holds the lock)."""
        if self._conn is not None and self._conn.is_closed() and not self.backoff.down:
            self.backoff.noticed(ConnectionError("the database closed the connection"))
        while _connection_lost(self._conn):
            try:
                conn = await raw_connect(self.dsn)
                try:
                    for channel, callback in self._listeners:
                        await conn.add_listener(channel, Relay(callback))
                except BaseException:
                    conn.terminate()
                    raise
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                if self._give_up.is_set():
                    raise
                await self.backoff.wait(exc, self._give_up)
                continue
            self._conn = conn
            self.backoff.recovered()
        assert self._conn is not None
        return self._conn

    async def _run(self, fn: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
        async with self._lock:
            while True:
                conn = await self._connected()
                try:
                    return await fn(conn)
                except Exception as exc:
                    if not _connection_lost(conn) or self._give_up.is_set():
                        raise
                    self.backoff.noticed(exc)  # the loop reconnects at once, then backs off if it must

    async def fetch(self, query: str, *args: object) -> list[dict[str, object]]:
        return [dict(r) for r in await self._run(lambda c: c.fetch(query, *args))]

    async def execute(self, query: str, *args: object) -> str:
        return str(await self._run(lambda c: c.execute(query, *args)))

    async def notify(self, channel: str, payload: str) -> None:
        await self._run(lambda c: c.execute("SELECT pg_notify($1, $2)", channel, payload))

    async def add_listener(self, channel: str, callback: NotifyCallback) -> None:
        self._listeners.append((channel, callback))
        await self._run(lambda c: c.add_listener(channel, Relay(callback)))

    async def remove_listener(self, channel: str, callback: NotifyCallback) -> None:
        if (channel, callback) in self._listeners:
            self._listeners.remove((channel, callback))
        if self.connected:
            await self._run(lambda c: c.remove_listener(channel, Relay(callback)))

    @property
    def shutdown(self) -> asyncio.Event:
        return self._shutdown

    @property
    def tm(self) -> TaskManager:
        return TaskManager()

    async def __aenter__(self) -> QueueConnection:
        return self

    async def __aexit__(self, *_: object) -> None:
        self._listeners.clear()  # the next QueueManager on this connection registers its own

    def give_up(self) -> None:
        self._give_up.set()

    async def close(self) -> None:
        self.give_up()
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 5)
            except (OSError, TimeoutError, asyncpg.InterfaceError):
                conn.terminate()


class Worker:
    """Runs every registered job until stopped; `switchboard worker` or embedded in the web process.

    Its loops (today one: the job queue) each run under `_supervise`, which restarts a loop that fails with
    back-off and records why for /health (`problems`). Stopping (`stop`) sets `stopping`: the queue takes no new
    jobs, running jobs get WORKER_STOP_SECONDS to finish (long ones go back to the queue at their next
    `checkpoint()`), and whatever still runs after that is cancelled and put back in the queue for the next worker.
    """

    def __init__(self, dsn: str | None = None, *, poll_seconds: float = 5.0, stop_seconds: float | None = None,
                 heartbeat_seconds: float | None = None, concurrency: int | None = None) -> None:
        settings = get_settings().jobs
        self.dsn = dsn
        self.concurrency = settings.concurrency if concurrency is None else concurrency
        """Most jobs running at once (0: no cap but the dequeue batch)."""
        self._slots = asyncio.Semaphore(self.concurrency) if self.concurrency else None
        self.poll = timedelta(seconds=poll_seconds)
        self.stop_seconds = settings.stop_seconds if stop_seconds is None else stop_seconds
        self.heartbeat = timedelta(seconds=settings.heartbeat_seconds if heartbeat_seconds is None
                                   else heartbeat_seconds)
        self.stopping = asyncio.Event()
        self.connection = QueueConnection(dsn)
        self.problems: dict[str, str | None] = {}
        """Each loop's current trouble (None: running fine)."""
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._running: set[asyncio.Task[Any]] = set()
        self._active = 0
        self.running_peak = 0
        """Most jobs seen running at once under a concurrency cap (tests read it)."""

    # -- the life of the worker ----------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.connection.connect()
        self._loop("jobs", self._run_jobs)
        log.info("worker_started", heartbeat_seconds=self.heartbeat.total_seconds(), stop_seconds=self.stop_seconds)

    def _loop(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        self.problems[name] = None
        self._loops[name] = asyncio.create_task(self._supervise(name, body), name=f"worker-{name}")

    async def _supervise(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        """Run `body` until the worker stops; when it fails, log it and run it again after a back-off."""
        backoff = Backoff(f"worker_{name}")
        while not self.stopping.is_set():
            try:
                await body()
            except Exception as exc:
                if self.stopping.is_set():
                    log.warning("worker_loop_failed_while_stopping", loop=name, exc_info=True)
                    return
                log.exception("worker_loop_failed", loop=name)
                self.problems[name] = f"restarting after {type(exc).__name__}: {exc}"[:300]
                await backoff.wait(exc, self.stopping)
                continue
            self.problems[name] = None
            backoff.recovered()

    def status(self) -> str:
        """`ok`, or what is wrong, for /health."""
        if self.stopping.is_set():
            return "stopping"
        for name, task in self._loops.items():
            if task.done():
                return f"error: the {name} loop has ended"
            if self.problems.get(name):
                return f"error: {name}: {self.problems[name]}"
        if not self.connection.connected:
            return f"error: reconnecting to the database ({self.connection.backoff.last_error or 'connection lost'})"
        return "ok"

    async def stop(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        loops = set(self._loops.values())
        pending = (await asyncio.wait(loops, timeout=self.stop_seconds))[1] if loops else set()
        if pending and self._running:
            log.info("worker_putting_back_jobs", jobs=len(self._running))
            for task in list(self._running):
                task.cancel()  # the job wrapper turns this into "back to the queue"
            pending = (await asyncio.wait(pending, timeout=10))[1]
        if pending:
            self.connection.give_up()
            for task in pending:
                task.cancel()
            pending = (await asyncio.wait(pending, timeout=5))[1]
            if pending:
                log.error("worker_stop_incomplete", loops=[t.get_name() for t in pending])
        await self.connection.close()
        log.info("worker_stopped")

    # -- the job queue -------------------------------------------------------------------------------------------

    async def _run_jobs(self) -> None:
        qm = QueueManager(Queries(self.connection))  # type: ignore[arg-type]
        qm.shutdown = self.stopping  # one stop for the queue, the jobs' checkpoints and the supervisor
        for name, spec in _REGISTRY.items():
            def factory(params: EntrypointExecutorParameters, spec: JobSpec = spec) -> DatabaseRetryEntrypointExecutor:
                return DatabaseRetryEntrypointExecutor(parameters=params, max_attempts=spec.max_attempts)

            qm.entrypoint(name, executor_factory=factory, on_failure="hold")(self._entry(name, spec))
        batch, picked = self.dequeue_limits()
        await qm.run(dequeue_timeout=self.poll, batch_size=batch, max_concurrent_tasks=picked,
                     heartbeat_timeout=self.heartbeat)

    def dequeue_limits(self) -> tuple[int, int | None]:
        """PgQueuer's batch size and cap of picked jobs for this worker's concurrency. PgQueuer wants the cap at least
        twice the batch, so with a concurrency of 1 a second job may be picked (it waits for the slot, its heartbeat
        beating); the semaphore in `_entry` holds the running ones to the concurrency exactly."""
        if not self.concurrency:
            return 10, None
        batch = max(1, min(10, self.concurrency // 2))
        return batch, max(self.concurrency, 2 * batch)

    def _entry(self, name: str, spec: JobSpec) -> Callable[[Job], Awaitable[None]]:
        @functools.wraps(spec.fn)
        async def run(job: Job) -> None:
            payload = decode(job)
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            token = _stopping.set(self.stopping)
            viewer = i18n.activate(i18n.Viewer())  # each job starts in English and UTC; it sets its reader's own
            try:
                if self._slots is None:
                    await spec.fn(payload)
                else:
                    async with self._slots:
                        self._active += 1
                        self.running_peak = max(self.running_peak, self._active)
                        try:
                            await spec.fn(payload)
                        finally:
                            self._active -= 1
            except (Interrupted, asyncio.CancelledError) as exc:
                if not self.stopping.is_set():
                    raise
                if isinstance(exc, asyncio.CancelledError):
                    task.uncancel()
                log.info("job_put_back", job=name, job_id=job.id, tenant=payload.get("tenant"),
                         reason="checkpoint" if isinstance(exc, Interrupted) else "cancelled at stop")
                await self._not_an_attempt(job)
                raise RetryRequested(delay=timedelta(0), reason="the worker stopped; resumes on the next") from None
            except Exception:
                log.exception("job_failed", job=name, job_id=job.id, attempts=job.attempts,
                              tenant=payload.get("tenant"))
                raise
            finally:
                i18n.deactivate(viewer)
                _stopping.reset(token)
                self._running.discard(task)

        return run

    async def _not_an_attempt(self, job: Job) -> None:
        """PgQueuer counts every re-queue as an attempt (its retry adds one right after this); a stop is not one, it
        would shorten the job's retries and lengthen its back-off."""
        try:
            await self.connection.execute(
                f"UPDATE {_QUEUE_TABLE} SET attempts = attempts - 1 WHERE id = $1", job.id)  # noqa: S608
        except Exception:  # the count is cosmetic next to putting the job back
            log.warning("job_attempt_uncount_failed", job_id=job.id, exc_info=True)
