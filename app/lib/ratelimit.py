"""Rate limits: the public endpoints (the order portal, the web chat widget) and the API keys (per key and per
tenant, app.lib.ratelimit.api_limiter).

Every limiter keeps a sliding log: at most `limit` hits in ANY `window` seconds, so a burst at a window's edge
cannot pass twice the limit as a fixed window would let it. With REDIS_URL the log lives in Redis (a sorted set of
hit times per key, checked and appended atomically by one Lua script), so every process of a deployment spends one
allowance. Without Redis (the embedded default, one process) or while Redis is unreachable, each process keeps the
same log in memory. Every key carries the tenant, so one shop's visitors never spend another shop's allowance. A
refusal is a TooManyAttempts (429) whose `retry_after` is the seconds until the oldest counted hit leaves the
window (the error handler sends it as `Retry-After`).
"""

from __future__ import annotations

import asyncio
import collections
import math
import secrets
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
import structlog

from app.lib.errors import TooManyAttempts
from app.lib.i18n import N_
from app.settings import get_settings

log = structlog.get_logger(__name__)

MAX_KEYS = 1_024
"""Above this many logs in memory, the idle ones (no hit within the window) are dropped, at most once per window:
the map holds about the keys of the last two windows, however many tenants and keys the process has seen (two logs
per tenant for the API keys: a process that served 10,000 tenants would otherwise keep 20,000)."""

# KEYS: the logs to spend one hit from (all or none); ARGV: now, window, member, then one limit per key.
# Answers {0, retry_after_ms, index of the refusing key} or {1}.
_SLIDING_LOG = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local limit = tonumber(ARGV[3 + i])
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local wait = window
    if oldest[2] then wait = tonumber(oldest[2]) + window - now end
    return {0, math.ceil(wait * 1000), i}
  end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, math.ceil(window * 1000) + 1000)
end
return {1}
"""


class Limiter:
    """At most `limit` hits per key in any `window` seconds; the key says who is limited (a token hash, a client
    address, a chat, an API key) within a tenant. With `tenant_limit`, all the keys of one tenant together also get
    at most that many (a hit refused by either is counted by neither). `name` keeps limiters apart in Redis; `clock`
    (seconds, default time.time) is injectable for tests."""

    def __init__(self, limit: int, window: float,
                 message: str = N_("Too many requests for this page; wait a minute and try again."), *,
                 name: str = "public", redis_url: str | None = None, prefix: str | None = None,
                 tenant_limit: int | None = None, tenant_message: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.window = window
        self.message = message
        self.name = name
        self.tenant_limit = tenant_limit
        self.tenant_message = tenant_message or message
        self.clock = clock
        self._redis_url = redis_url
        self._prefix = prefix
        self._hits: dict[str, collections.deque[float]] = {}
        self._pruned_at = float("-inf")

    def _logs(self, tenant: str, key: str) -> list[tuple[str, int, str]]:
        logs = [(f"{tenant}|{key}", self.limit, self.message)]
        if self.tenant_limit is not None:
            logs.append((f"{tenant}|*", self.tenant_limit, self.tenant_message))
        return logs

    async def check(self, tenant: str, key: str) -> None:
        """Count a hit of `key` within `tenant`; TooManyAttempts (429, with `retry_after`) past a limit."""
        logs = self._logs(tenant, key)
        t = self.clock()
        if not await self._shared(logs, t):
            self._local(logs, t)

    def _refuse(self, message: str, limit: int, wait: float) -> None:
        seconds = max(1, math.ceil(wait))
        raise TooManyAttempts(message, extra={"retry_after": seconds}, limit=limit, seconds=seconds)

    def _local(self, logs: list[tuple[str, int, str]], t: float) -> None:
        found = []
        for key, limit, message in logs:
            hits = self._hits.setdefault(key, collections.deque())
            while hits and hits[0] <= t - self.window:
                hits.popleft()
            if len(hits) >= limit:
                self._refuse(message, limit, hits[0] + self.window - t if hits else self.window)
            found.append(hits)
        for hits in found:
            hits.append(t)
        if len(self._hits) > MAX_KEYS and t - self._pruned_at >= self.window:
            self._pruned_at = t
            for k in [k for k, v in self._hits.items() if not v or v[-1] <= t - self.window]:
                del self._hits[k]

    def _redis(self) -> tuple[str | None, str]:
        if self._redis_url is not None:
            return self._redis_url, self._prefix or "sb"
        settings = get_settings().redis
        return settings.url, self._prefix or settings.prefix

    async def _shared(self, logs: list[tuple[str, int, str]], t: float) -> bool:
        """Spend the hit from the logs in Redis (or refuse); False when there is no Redis or it is unreachable."""
        url, prefix = self._redis()
        if not url:
            return False
        names = [f"{prefix}:rl2:{self.name}:{key}" for key, _, _ in logs]
        try:
            answer = await _client(url).eval(_SLIDING_LOG, len(names), *names, repr(t), repr(self.window),
                                             f"{t!r}:{secrets.token_hex(4)}", *[limit for _, limit, _ in logs])
        except Exception as exc:  # a rate limit must never take the page down with Redis
            log.warning("rate_limit_redis_unavailable", error=str(exc))
            return False
        if int(answer[0]) == 0:
            _, limit, message = logs[int(answer[2]) - 1]
            self._refuse(message, limit, int(answer[1]) / 1000)
        return True

    def reset(self) -> None:
        self._hits.clear()


API_KEY_MESSAGE = N_("This API key made %(limit)s requests in the last minute, its limit; retry in %(seconds)s "
                     "seconds (Retry-After), or spread the calls out or over more keys.")
API_TENANT_MESSAGE = N_("This workspace's API keys made %(limit)s requests together in the last minute, its limit; "
                        "retry in %(seconds)s seconds (Retry-After) and spread the calls out.")

_api: dict[tuple[int, int], Limiter] = {}


def api_limiter() -> Limiter:
    """The API keys' limiter: API_RATE_PER_MINUTE per key and TENANT_API_RATE_PER_MINUTE per tenant."""
    sec = get_settings().security
    wanted = (sec.api_rate_per_minute, sec.tenant_api_rate_per_minute)
    limiter = _api.get(wanted)
    if limiter is None:
        _api.clear()
        limiter = _api[wanted] = Limiter(wanted[0], 60.0, API_KEY_MESSAGE, name="api", tenant_limit=wanted[1],
                                         tenant_message=API_TENANT_MESSAGE)
    return limiter


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
