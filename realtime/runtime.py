"""The process's realtime machinery (backend, presence store, hub), chosen from settings at start-up."""

from __future__ import annotations

import asyncio
import dataclasses

import structlog

from app.settings import Settings, get_settings
from realtime import presence
from realtime.backends.base import BroadcastBackend
from realtime.backends.memory import MemoryBackend
from realtime.backends.redis import RedisBackend
from realtime.hub import Hub
from realtime.presence import MemoryPresence, PresenceStore, RedisPresence

log = structlog.get_logger(__name__)


@dataclasses.dataclass
class Runtime:
    backend: BroadcastBackend
    presence: PresenceStore
    hub: Hub


_current: Runtime | None = None
_lock: asyncio.Lock | None = None


def build(settings: Settings | None = None) -> Runtime:
    """Redis when REDIS_URL is set, else in-memory (the embedded default: one process)."""
    settings = settings or get_settings()
    backend: BroadcastBackend
    presence: PresenceStore
    if settings.redis.url:
        backend = RedisBackend(settings.redis.url, settings.redis.prefix)
        presence = RedisPresence(settings.redis.url, settings.redis.prefix)
    else:
        backend, presence = MemoryBackend(), MemoryPresence()
    return Runtime(backend=backend, presence=presence, hub=Hub(backend, presence))


async def start(rt: Runtime | None = None) -> bool:
    """Start `rt` (default: from settings) as this process's runtime. Returns False when one is already running
    (its owner stops it), like app.lib.db.start_database."""
    global _current
    if _current is not None:
        return False
    rt = rt or build()
    await rt.backend.start()
    _current = rt
    presence.use(rt.presence)
    log.info("realtime_started", backend=rt.backend.name)
    return True


async def stop() -> None:
    global _current
    rt, _current = _current, None
    if rt is None:
        return
    presence.use(None)
    await rt.hub.stop()
    await rt.backend.stop()
    await rt.presence.close()


def runtime() -> Runtime:
    if _current is None:
        raise RuntimeError("realtime is not started: the app lifespan starts it (realtime.runtime.start)")
    return _current


async def ensure_started() -> Runtime:
    """The running runtime, started from settings if this process has none yet (workers, CLI)."""
    global _lock
    if _current is None:
        _lock = _lock or asyncio.Lock()
        async with _lock:
            if _current is None:
                await start()
    return runtime()
