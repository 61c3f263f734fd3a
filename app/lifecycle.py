"""Start-up and shut-down of the web process: database pool, realtime fan-out, job worker, durable listeners.
A composition root (like app.asgi and app.cli): it hands the job registry and the listeners to the base layer."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

import structlog

from app import jobs as _jobs  # noqa: F401  (hands the job registry to app.lib.jobs)
from app.lib import health
from app.lib.db import database_url, direct_database_url, start_database, stop_database
from app.lib.jobs import Worker
from app.listeners import DURABLE
from app.settings import get_settings
from realtime import runtime as realtime
from realtime.durable import Spine

log = structlog.get_logger(__name__)

GC_YOUNG_THRESHOLD = 20_000
"""Container objects allocated (net) between two collections of the youngest generation of the web process;
CPython's default is 700. A console fan-out allocates per socket per message things that outlive a young
collection by a few milliseconds (queued items, futures, the loop's handles), so with the default they were
promoted over and over and full collections walked the whole heap (every socket's objects) many times a second:
31% of the server's CPU in the light cell of bench_realtime (py-spy --native: gc_collect_main). Cyclic garbage is
still collected, about 30 times less often; at most this many young objects wait for it."""


def tune_gc() -> None:
    """Collect cyclic garbage less often (see GC_YOUNG_THRESHOLD); the older generations keep their ratios."""
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


async def _start_spine(dsn: str) -> Spine:
    """The durable listeners run beside the embedded job worker; the registry is handed in, not imported by lib."""
    spine = Spine(dsn, DURABLE)
    await spine.start()
    return spine


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    settings = get_settings()
    tune_gc()
    owns_pool = await start_database(database_url(), settings.db.pool_min, settings.db.pool_max)
    owns_realtime = await realtime.start()
    worker = None
    if settings.app.embedded_worker:
        worker = Worker(direct_database_url(), poll_seconds=1.0)
        await worker.start()
        health.register("worker", worker.status)
    spine = await _start_spine(direct_database_url()) if settings.app.embedded_worker else None
    if spine is not None:
        health.register("listeners", spine.status)
    log.info("started", base_url=settings.app.base_url, embedded_worker=bool(worker))
    try:
        yield
    finally:
        if spine is not None:
            health.unregister("listeners")
            await spine.stop()
        if worker is not None:
            health.unregister("worker")
            await worker.stop()
        if owns_realtime:
            await realtime.stop()
        if owns_pool:
            await stop_database()
