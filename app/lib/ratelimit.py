"""Rate limits of the public endpoints (the order portal, the web chat widget).

With REDIS_URL the counts live in Redis, so every process of a deployment spends one allowance (a fixed window
per key: at most `limit` hits per `window` seconds, a burst of up to twice that across a window's edge). Without
Redis (the embedded default, one process) or while Redis is unreachable, each process counts in memory with a
sliding window. Every key carries the tenant, so one shop's visitors never spend another shop's allowance.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

import redis.asyncio as aioredis
import structlog

from app.lib.errors import TooManyAttempts
from app.lib.i18n import N_
from app.settings import get_settings

log = structlog.get_logger(__name__)

MAX_KEYS = 50_000
"""Above this many keys the idle ones are forgotten, so the in-memory map cannot grow without bound."""


class Limiter:
    """At most `limit` hits per key in any `window` seconds; the key says who is limited (a token hash, a client
    address, a chat) within a tenant. `name` keeps limiters apart in Redis."""

    def __init__(self, limit: int, window: float,
                 message: str = N_("Too many requests for this page; wait a minute and try again."), *,
                 name: str = "public", redis_url: str | None = None, prefix: str | None = None) -> None:
        self.limit = limit
        self.window = window
        self.message = message
        self.name = name
        self._redis_url = redis_url
        self._prefix = prefix
        self._hits: dict[str, collections.deque[float]] = {}

    async def check(self, tenant: str, key: str) -> None:
        """Count a hit of `key` within `tenant`; TooManyAttempts (429) past the limit."""
        key = f"{tenant}|{key}"
        count = await self._shared_count(key)
        if count is None:
            self._local(key)
        elif count > self.limit:
            self._refuse()

    def _refuse(self) -> None:
        raise TooManyAttempts(self.message, extra={"retry_after": int(self.window)})

    def _local(self, key: str) -> None:
        t = time.monotonic()
        hits = self._hits.setdefault(key, collections.deque())
        while hits and hits[0] <= t - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            self._refuse()
        hits.append(t)
        if len(self._hits) > MAX_KEYS:
            for k in [k for k, v in self._hits.items() if not v or v[-1] <= t - self.window]:
                del self._hits[k]

    def _redis(self) -> tuple[str | None, str]:
        if self._redis_url is not None:
            return self._redis_url, self._prefix or "sb"
        settings = get_settings().redis
        return settings.url, self._prefix or settings.prefix

    async def _shared_count(self, key: str) -> int | None:
        """This window's count in Redis after this hit, or None when there is no Redis (or it is unreachable)."""
        url, prefix = self._redis()
        if not url:
            return None
        window = max(int(self.window), 1)
        slot = int(time.time() // window)
        name = f"{prefix}:rl:{self.name}:{key}:{slot}"
        try:
            async with _client(url).pipeline(transaction=True) as pipe:
                pipe.set(name, 0, ex=window + 1, nx=True)
                pipe.incr(name)
                _, count = await pipe.execute()
        except Exception as exc:  # a rate limit must never take the page down with Redis
            log.warning("rate_limit_redis_unavailable", error=str(exc))
            return None
        return int(count)

    def reset(self) -> None:
        self._hits.clear()


_clients: dict[tuple[int, str], Any] = {}


def _client(url: str) -> Any:
    """One client per event loop and URL (connections belong to the loop that opened them)."""
    loop = asyncio.get_running_loop()
    key = (id(loop), url)
    client = _clients.get(key)
    if client is None:
        for stale in [k for k in _clients if k[1] == url and k[0] != id(loop)]:
            _clients.pop(stale, None)  # a finished loop's client (tests run one loop each)
        client = _clients[key] = aioredis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
    return client
