"""A per-process sliding-window limiter for public endpoints (the order portal, the web chat widget)."""

from __future__ import annotations

import collections
import time

from app.lib.errors import TooManyAttempts

MAX_KEYS = 50_000
"""Above this many keys the idle ones are forgotten, so the map cannot grow without bound."""


class Limiter:
    """At most `limit` hits per key in any `window` seconds; the key says who is limited (a token hash, a client
    address, both). Per process: a cluster-wide cap would sit in Redis, which these public pages do not need."""

    def __init__(self, limit: int, window: float,
                 message: str = "Too many requests for this page; wait a minute and try again.") -> None:
        self.limit = limit
        self.window = window
        self.message = message
        self._hits: dict[str, collections.deque[float]] = {}

    def check(self, tenant: str, key: str) -> None:
        """Count a hit of `key` (a client address, a token hash, a chat) within `tenant`: the tenant is part of every
        key, so one shop's traffic never spends another shop's allowance."""
        key = f"{tenant}|{key}"
        t = time.monotonic()
        hits = self._hits.setdefault(key, collections.deque())
        while hits and hits[0] <= t - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            raise TooManyAttempts(self.message, extra={"retry_after": int(self.window)})
        hits.append(t)
        if len(self._hits) > MAX_KEYS:
            for k in [k for k, v in self._hits.items() if not v or v[-1] <= t - self.window]:
                del self._hits[k]

    def reset(self) -> None:
        self._hits.clear()
