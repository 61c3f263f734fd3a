"""Redis pub/sub broadcast across processes, with redis-py directly (one pub/sub connection per process).

Why not `broadcaster` or Litestar's channels plugin (facts from STACK_NOTES, re-checked against our needs):
- broadcaster 0.3.1 is unmaintained since 2024-08 and its first subscription can miss every message (its
  listener wakes before it has subscribed); its stream backend starts at the newest entry and never trims, so
  it gives us neither reliable live delivery nor replay.
- Litestar's `RedisChannelsPubSubBackend` can lose a subscription when two sockets subscribe at once on a fresh
  process (needs a warm-up channel), and its stream backend re-delivers history to the first subscriber; its
  plugin also owns the websocket fan-out and backlog, which we need to own (auth per channel, replay from our
  log, one ordered feed per tenant).
Replay lives in our Postgres event log anyway, so all we need from Redis is plain PUBLISH/SUBSCRIBE. Doing it
here is ~100 lines and fixes both races by construction: `_listen` returns only after Redis confirmed the
SUBSCRIBE, and the pub/sub connection is opened on a control channel at start-up. redis-py is pinned <8
(8.x swallows task cancellation).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import redis.asyncio as aioredis
import structlog

from app.lib.backoff import Backoff
from realtime.backends.base import BroadcastBackend

log = structlog.get_logger(__name__)

CONFIRM_TIMEOUT = 5.0
PIPELINE_MAX = 1000
"""PUBLISHes sent in one pipeline at most (a group commit's events: two channels for each message)."""


class RedisBackend(BroadcastBackend):
    """Channels are `{prefix}:{channel}` in Redis, so test runs and deployments sharing a server never meet."""

    name = "redis"

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__()
        self.url = url
        self.prefix = prefix + ":"
        self._client: aioredis.Redis | None = None
        self._pubsub: aioredis.client.PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._confirm: dict[str, asyncio.Future[None]] = {}

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            raise RuntimeError("the Redis backend is not started")
        return self._client

    async def start(self) -> None:
        # Named, so an operator (or a test) can find this process's pub/sub connection in CLIENT LIST.
        self._client = aioredis.from_url(self.url, client_name=self.prefix + "realtime")
        self._pubsub = self._client.pubsub()
        # Open the pub/sub connection on a control channel before any socket subscribes (see docstring).
        control = self.prefix + "realtime:control"
        fut = self._expect(control)
        await self._pubsub.subscribe(control)
        self._reader = asyncio.create_task(self._read(), name="realtime-redis-reader")
        await asyncio.wait_for(fut, CONFIRM_TIMEOUT)

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            self._pubsub = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def publish(self, channel: str, payload: bytes) -> None:
        await self.client.publish(self.prefix + channel, payload)

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """One pipeline (no MULTI): one write and one round trip for many PUBLISHes, run by Redis in order."""
        for start in range(0, len(messages), PIPELINE_MAX):
            pipe = self.client.pipeline(transaction=False)
            for channel, payload in messages[start:start + PIPELINE_MAX]:
                pipe.publish(self.prefix + channel, payload)
            await pipe.execute()

    async def _listen(self, channels: list[str]) -> None:
        assert self._pubsub is not None, "the Redis backend is not started"
        keys = [self.prefix + c for c in channels]
        futures = [self._expect(k) for k in keys]
        await self._pubsub.subscribe(*keys)
        await asyncio.wait_for(asyncio.gather(*futures), CONFIRM_TIMEOUT)

    async def _unlisten(self, channels: list[str]) -> None:
        if self._pubsub is not None:
            await self._pubsub.unsubscribe(*[self.prefix + c for c in channels])

    def _expect(self, key: str) -> asyncio.Future[None]:
        fut = self._confirm.get(key)
        if fut is None or fut.done():
            fut = self._confirm[key] = asyncio.get_running_loop().create_future()
        return fut

    async def _read(self) -> None:
        assert self._pubsub is not None
        backoff = Backoff("realtime_redis", cap=10.0)
        while True:
            try:
                msg = await self._pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # redis-py reconnects and re-subscribes on the next read; what was published meanwhile is
                # recovered by the hub's periodic catch-up from the event log.
                await backoff.wait(exc)
                continue
            backoff.recovered()
            if msg is None:
                continue
            kind = msg["type"]
            key = msg["channel"].decode() if isinstance(msg["channel"], bytes) else msg["channel"]
            if kind == "message" and key.startswith(self.prefix):
                self._deliver(key[len(self.prefix):], msg["data"])
            elif kind == "subscribe":
                fut = self._confirm.pop(key, None)
                if fut is not None and not fut.done():
                    fut.set_result(None)
