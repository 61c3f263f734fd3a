"""Who is online: TTL heartbeats in Redis (or memory), so a crashed process leaves no ghosts. A user is online while
any of their sockets, in any process, has heartbeated within the TTL.

This is liveness only. What an agent is doing (available, busy, wrap-up, away with a reason, offline) is the
agents domain's `agent_state` row in PostgreSQL, the one truth routing reads; it hears every change here through
the watchers its manifest declares (`Domain.presence_watchers`, registered by app.domains), which run in the same
unit of work as the `presence.changed` event."""

from __future__ import annotations

import abc
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from app.lib.db import TenantRef, tenant_context
from realtime import channels
from realtime.events import PRESENCE_CHANGED
from realtime.publish import emit

ONLINE, OFFLINE = "online", "offline"
TTL = 15.0
"""Seconds a socket counts as alive after its last heartbeat."""
HEARTBEAT_EVERY = TTL / 3


@dataclasses.dataclass(frozen=True)
class PresenceState:
    status: str
    """online | offline"""
    since: float
    """Unix time of the last change of `status` (for "time in state")."""


class PresenceStore(abc.ABC):
    """Presence of one tenant's users; each method returns the new shown status when it changed, else None."""

    @abc.abstractmethod
    async def connect(self, slug: str, user_id: int, conn_id: str, ttl: float = TTL) -> str | None: ...

    @abc.abstractmethod
    async def heartbeat(self, slug: str, conns: list[tuple[int, str]], ttl: float = TTL) -> None: ...

    @abc.abstractmethod
    async def disconnect(self, slug: str, user_id: int, conn_id: str) -> str | None: ...

    @abc.abstractmethod
    async def sweep(self, slug: str) -> list[int]:
        """Mark offline the users whose sockets all stopped heartbeating; returns their ids."""

    @abc.abstractmethod
    async def snapshot(self, slug: str) -> dict[int, PresenceState]: ...

    async def close(self) -> None:
        return None


@dataclasses.dataclass
class _UserPresence:
    shown: str = "offline"
    since: float = 0.0
    conns: dict[str, float] = dataclasses.field(default_factory=dict)

    def live(self, now: float) -> bool:
        self.conns = {c: exp for c, exp in self.conns.items() if exp > now}
        return bool(self.conns)


class MemoryPresence(PresenceStore):
    """One process's view, for the embedded default."""

    def __init__(self) -> None:
        self._users: dict[str, dict[int, _UserPresence]] = {}

    def _get(self, slug: str, user_id: int) -> _UserPresence:
        return self._users.setdefault(slug, {}).setdefault(user_id, _UserPresence())

    async def connect(self, slug: str, user_id: int, conn_id: str, ttl: float = TTL) -> str | None:
        now = time.time()
        p = self._get(slug, user_id)
        p.live(now)
        p.conns[conn_id] = now + ttl
        if p.shown == "offline":
            p.shown, p.since = ONLINE, now
            return p.shown
        return None

    async def heartbeat(self, slug: str, conns: list[tuple[int, str]], ttl: float = TTL) -> None:
        now = time.time()
        for user_id, conn_id in conns:
            self._get(slug, user_id).conns[conn_id] = now + ttl

    async def disconnect(self, slug: str, user_id: int, conn_id: str) -> str | None:
        now = time.time()
        p = self._get(slug, user_id)
        p.conns.pop(conn_id, None)
        if not p.live(now) and p.shown != "offline":
            p.shown, p.since = "offline", now
            return p.shown
        return None

    async def sweep(self, slug: str) -> list[int]:
        now = time.time()
        gone = []
        for user_id, p in self._users.get(slug, {}).items():
            if p.shown != "offline" and not p.live(now):
                p.shown, p.since = "offline", now
                gone.append(user_id)
        return gone

    async def snapshot(self, slug: str) -> dict[int, PresenceState]:
        now = time.time()
        return {uid: PresenceState(p.shown if p.live(now) else "offline", p.since)
                for uid, p in self._users.get(slug, {}).items()}


# Each script changes one user's state atomically, so two processes never both announce the same change.
_LUA_STATE = """
local function load(raw) if raw then return cjson.decode(raw) end
  return {shown='offline', since=0} end
local function live(key, now) redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  return redis.call('ZCARD', key) > 0 end
"""
_LUA_CONNECT = _LUA_STATE + """
local now = tonumber(ARGV[3])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[2])
redis.call('EXPIRE', KEYS[2], math.ceil(tonumber(ARGV[4])) + 1)
local st = load(redis.call('HGET', KEYS[1], ARGV[1]))
if st.shown ~= 'offline' then return false end
st.shown = 'online'; st.since = now
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(st))
return st.shown
"""
_LUA_DISCONNECT = _LUA_STATE + """
local now = tonumber(ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[2])
local st = load(redis.call('HGET', KEYS[1], ARGV[1]))
if st.shown == 'offline' or live(KEYS[2], now) then return false end
st.shown = 'offline'; st.since = now
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(st))
return st.shown
"""
_LUA_SWEEP = _LUA_STATE + """
local now = tonumber(ARGV[2])
local gone = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local st = cjson.decode(all[i + 1])
  if st.shown ~= 'offline' and not live(ARGV[1] .. all[i], now) then
    st.shown = 'offline'; st.since = now
    redis.call('HSET', KEYS[1], all[i], cjson.encode(st))
    table.insert(gone, all[i])
  end
end
return gone
"""


class RedisPresence(PresenceStore):
    """`{prefix}:presence:{slug}` holds each user's state; `...:conns:{user_id}` the live sockets with expiry."""

    def __init__(self, url: str, prefix: str) -> None:
        self._client = aioredis.from_url(url)
        self._prefix = prefix
        self._connect = self._client.register_script(_LUA_CONNECT)
        self._disconnect = self._client.register_script(_LUA_DISCONNECT)
        self._sweep = self._client.register_script(_LUA_SWEEP)

    def _state_key(self, slug: str) -> str:
        return f"{self._prefix}:presence:{slug}"

    def _conns_key(self, slug: str, user_id: int | str = "") -> str:
        return f"{self._prefix}:presence:{slug}:conns:{user_id}"

    @staticmethod
    def _result(raw: bytes | None) -> str | None:
        return raw.decode() if raw else None

    async def connect(self, slug: str, user_id: int, conn_id: str, ttl: float = TTL) -> str | None:
        return self._result(await self._connect(keys=[self._state_key(slug), self._conns_key(slug, user_id)],
                                                args=[user_id, conn_id, time.time(), ttl]))

    async def heartbeat(self, slug: str, conns: list[tuple[int, str]], ttl: float = TTL) -> None:
        if not conns:
            return
        expires = time.time() + ttl
        async with self._client.pipeline(transaction=False) as pipe:
            for user_id, conn_id in conns:
                key = self._conns_key(slug, user_id)
                pipe.zadd(key, {conn_id: expires})
                pipe.expire(key, int(ttl) + 2)
            await pipe.execute()

    async def disconnect(self, slug: str, user_id: int, conn_id: str) -> str | None:
        return self._result(await self._disconnect(keys=[self._state_key(slug), self._conns_key(slug, user_id)],
                                                   args=[user_id, conn_id, time.time()]))

    async def sweep(self, slug: str) -> list[int]:
        gone = await self._sweep(keys=[self._state_key(slug)], args=[self._conns_key(slug), time.time()])
        return [int(uid) for uid in gone]

    async def snapshot(self, slug: str) -> dict[int, PresenceState]:
        raw = await self._client.hgetall(self._state_key(slug))
        states = {int(uid): json.loads(v) for uid, v in raw.items()}
        now = time.time()
        out = {}
        for uid, st in states.items():
            # A crashed process cannot announce; until a sweep does, expired sockets already read as offline.
            alive = await self._client.zcount(self._conns_key(slug, uid), now, "+inf")
            shown = st["shown"] if alive or st["shown"] == "offline" else "offline"
            out[uid] = PresenceState(shown, st["since"])
        return out

    async def close(self) -> None:
        await self._client.aclose()


# -- announcing changes ------------------------------------------------------------------------------------------

_running: PresenceStore | None = None


def use(store: PresenceStore | None) -> None:
    """realtime.runtime hands in the store it built when it starts (None when it stops): the runtime sits above this
    module, so the store is given, not looked up."""
    global _running
    _running = store


def running() -> PresenceStore:
    if _running is None:
        raise RuntimeError("realtime is not started: the app lifespan starts it (realtime.runtime.start)")
    return _running


Watcher = Callable[[int, str], Awaitable[None]]
"""`fn(user_id, status)` with status online | offline, run inside the tenant's unit of work of the change."""
_watchers: list[Watcher] = []


def watch(fn: Watcher) -> None:
    """Hear every online/offline change (app.domains registers the manifests' `presence_watchers`; idempotent)."""
    if fn not in _watchers:
        _watchers.append(fn)


async def announce(tenant: TenantRef, user_id: int, status: str) -> None:
    """A user's first console connected (online) or their last one left (offline): one unit of work publishes
    presence.changed and runs the watchers (the agents domain moves the user's state with it)."""
    async with tenant_context(tenant):
        await emit(PRESENCE_CHANGED, user_id=user_id, status=status, channels=[channels.queue()])
        for fn in _watchers:
            await fn(user_id, status)


async def team(tenant: TenantRef) -> dict[int, PresenceState]:
    """Everyone's liveness in the tenant (users never seen online are absent: offline)."""
    return await running().snapshot(tenant.slug)
