"""Pacing for background loops that lose their database or Redis connection: doubling, jittered delays, one log
line per failure (`connection_lost`, with the attempt and the next delay) and one when it works again
(`connection_recovered`). Every loop of ours that must outlive an outage (job queue, realtime reader and ticks)
keeps one `Backoff` and says so through it, so an operator greps one event name for all of them."""

from __future__ import annotations

import asyncio
import contextlib
import random

import structlog

log = structlog.get_logger(__name__)


class Backoff:
    def __init__(self, part: str, *, first: float = 0.5, cap: float = 30.0) -> None:
        self.part = part
        """What lost its connection, as the log and /health name it: `job_queue`, `realtime_redis`, ..."""
        self.first = first
        self.cap = cap
        self.failures = 0
        self.last_error: str | None = None

    @property
    def down(self) -> bool:
        return self.failures > 0

    def failed(self, exc: BaseException) -> float:
        """Count a failure, log it, and return how long to wait before the next try."""
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}".strip()[:300]
        delay = min(self.first * 2 ** (self.failures - 1), self.cap) * random.uniform(0.8, 1.2)
        log.warning("connection_lost", part=self.part, attempt=self.failures, retry_in=round(delay, 2),
                    error=self.last_error)
        return delay

    def noticed(self, exc: BaseException) -> None:
        """The connection was found gone; the caller reconnects at once (a failing reconnect then backs off)."""
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}".strip()[:300]
        log.warning("connection_lost", part=self.part, attempt=self.failures, retry_in=0, error=self.last_error)

    def recovered(self) -> None:
        if self.failures:
            log.info("connection_recovered", part=self.part, attempts=self.failures)
        self.failures = 0
        self.last_error = None

    async def wait(self, exc: BaseException, stop: asyncio.Event | None = None) -> None:
        """`failed(exc)`, then sleep the delay (returning early when `stop` is set)."""
        delay = self.failed(exc)
        if stop is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
