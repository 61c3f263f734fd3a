"""The simulator's clock: real time times `speed`, plus jumps a test asks for (`advance`)."""

from __future__ import annotations

import asyncio
import time


class Clock:
    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._t0 = time.monotonic()
        self._offset = 0.0
        self._tick = asyncio.Event()

    def now(self) -> float:
        return self._offset + (time.monotonic() - self._t0) * self.speed

    def advance(self, seconds: float) -> None:
        """Jump forward: everything sleeping in simulated time wakes up and re-checks."""
        self._offset += seconds
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def sleep(self, seconds: float) -> None:
        target = self.now() + seconds
        while (remaining := target - self.now()) > 0:
            try:
                await asyncio.wait_for(self._tick.wait(), timeout=remaining / self.speed)
            except TimeoutError:
                pass
