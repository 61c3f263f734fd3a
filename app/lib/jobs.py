"""Background jobs on PgQueuer: enqueued on the unit of work's own connection, so the job commits (or not)
together with the data it belongs to. Jobs carry the tenant slug and re-enter `tenant_context` to run.

PgQueuer's objects live in `public` (PGQUEUER_SCHEMA), so its queries are schema-qualified and work from inside
a tenant transaction whose search_path names only the tenant's schema.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import msgspec
import structlog

os.environ.setdefault("PGQUEUER_SCHEMA", "public")

from pgqueuer import Queries, QueueManager
from pgqueuer.db import AsyncpgDriver
from pgqueuer.executors import DatabaseRetryEntrypointExecutor, EntrypointExecutorParameters
from pgqueuer.models import Job

from app.lib.db import current_tenant, current_uow, raw_connect

log = structlog.get_logger(__name__)

JobFn = Callable[[dict[str, Any]], Awaitable[None]]


@dataclasses.dataclass(frozen=True)
class JobSpec:
    fn: JobFn
    max_attempts: int = 8
    """Retries with exponential back-off (1 s doubling, capped at 5 minutes); after that the job is held as failed."""


async def enqueue(entrypoint: str, payload: dict[str, Any], *, delay: timedelta | None = None,
                  dedupe_key: str | None = None) -> int:
    """Queue `entrypoint` for the current tenant inside the current transaction."""
    from app.jobs import REGISTRY

    if entrypoint not in REGISTRY:
        raise KeyError(f"unknown job {entrypoint!r}: register it in app/jobs.py")
    body = {"tenant": current_tenant().slug, **payload}
    queries = Queries.from_asyncpg_connection(current_uow().connection)
    ids = await queries.enqueue(entrypoint, msgspec.json.encode(body), execute_after=delay, dedupe_key=dedupe_key)
    return int(ids[0])


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


def _wrap(name: str, spec: JobSpec) -> Callable[[Job], Awaitable[None]]:
    @functools.wraps(spec.fn)
    async def run(job: Job) -> None:
        payload = decode(job)
        try:
            await spec.fn(payload)
        except Exception:
            log.exception("job_failed", job=name, job_id=job.id, attempts=job.attempts, tenant=payload.get("tenant"))
            raise

    return run


class Worker:
    """Runs every registered job until stopped; `switchboard worker` or embedded in the web process."""

    def __init__(self, dsn: str | None = None, *, poll_seconds: float = 5.0) -> None:
        self.dsn = dsn
        self.poll = timedelta(seconds=poll_seconds)
        self._qm: QueueManager | None = None
        self._conn: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from app.jobs import REGISTRY

        self._conn = await raw_connect(self.dsn)
        qm = QueueManager(Queries(AsyncpgDriver(self._conn)))
        for name, spec in REGISTRY.items():
            def factory(params: EntrypointExecutorParameters, spec: JobSpec = spec) -> DatabaseRetryEntrypointExecutor:
                return DatabaseRetryEntrypointExecutor(parameters=params, max_attempts=spec.max_attempts)

            qm.entrypoint(name, executor_factory=factory, on_failure="hold")(_wrap(name, spec))
        self._qm = qm
        self._task = asyncio.create_task(qm.run(dequeue_timeout=self.poll, batch_size=10))

    async def stop(self) -> None:
        if self._qm is not None:
            self._qm.shutdown.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        if self._conn is not None:
            await self._conn.close()
