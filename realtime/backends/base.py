"""The broadcast interface: publish bytes on a channel, subscribe a set of channels, fan out inside the process.

A backend only moves notifications between processes; ordering, replay and de-duplication are the hub's job,
on top of the event log in Postgres (STACK_NOTES: the source of truth for replay should be ours).
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any


class Subscription:
    """Channels one consumer listens to, and the (channel, payload) pairs published on them, in arrival order."""

    def __init__(self, backend: BroadcastBackend) -> None:
        self._backend = backend
        self.channels: set[str] = set()
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self.closed = False

    async def add(self, channels: Iterable[str]) -> None:
        """Listen to more channels; returns once messages published from now on will arrive."""
        new = set(channels) - self.channels
        self.channels |= new
        await self._backend._attach(self, new)

    async def remove(self, channels: Iterable[str]) -> None:
        gone = set(channels) & self.channels
        self.channels -= gone
        await self._backend._detach(self, gone)

    async def get(self) -> tuple[str, bytes]:
        return await self._queue.get()

    def get_nowait(self) -> tuple[str, bytes]:
        """Raises asyncio.QueueEmpty when nothing is waiting."""
        return self._queue.get_nowait()

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.remove(set(self.channels))

    def _put(self, channel: str, payload: bytes) -> None:
        if not self.closed:
            self._queue.put_nowait((channel, payload))

    def __aiter__(self) -> AsyncIterator[tuple[str, bytes]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[tuple[str, bytes]]:
        while True:
            yield await self.get()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class BroadcastBackend(abc.ABC):
    """Moves payloads published on a channel to every subscription of that channel, in any process."""

    name: str = "base"

    def __init__(self) -> None:
        self._listeners: dict[str, set[Subscription]] = {}
        self._ready: dict[str, asyncio.Future[None]] = {}

    async def start(self) -> None:
        """Connect; called once before use."""
        return None

    async def stop(self) -> None:
        """Disconnect; subscriptions stop receiving."""
        return None

    @abc.abstractmethod
    async def publish(self, channel: str, payload: bytes) -> None:
        """Send `payload` to every subscriber of `channel`, in this and every other process."""

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """`publish` each (channel, payload) in the order given (a backend may send them in one go)."""
        for channel, payload in messages:
            await self.publish(channel, payload)

    async def subscribe(self, channels: Iterable[str] = ()) -> Subscription:
        sub = Subscription(self)
        await sub.add(channels)
        return sub

    @abc.abstractmethod
    async def _listen(self, channels: list[str]) -> None:
        """Start receiving `channels` in this process; return once the transport confirmed it."""

    @abc.abstractmethod
    async def _unlisten(self, channels: list[str]) -> None:
        """Stop receiving `channels` in this process."""

    async def _attach(self, sub: Subscription, channels: set[str]) -> None:
        first: list[str] = []
        waits: list[asyncio.Future[None]] = []
        for channel in channels:
            listeners = self._listeners.setdefault(channel, set())
            if not listeners and channel not in self._ready:
                self._ready[channel] = asyncio.get_running_loop().create_future()
                first.append(channel)
            listeners.add(sub)
            waits.append(self._ready[channel])
        if first:
            try:
                await self._listen(first)
            except BaseException as exc:
                for channel in first:
                    fut = self._ready.pop(channel)
                    if not fut.done():
                        fut.set_exception(RuntimeError(f"could not subscribe {channel}"))
                        fut.exception()  # mark retrieved: the waiter below re-raises
                await self._detach(sub, channels)
                raise exc
            for channel in first:
                if not self._ready[channel].done():
                    self._ready[channel].set_result(None)
        # A channel another subscription is still confirming is not ready for this one either.
        await asyncio.gather(*waits)

    async def _detach(self, sub: Subscription, channels: set[str]) -> None:
        last: list[str] = []
        for channel in channels:
            listeners = self._listeners.get(channel)
            if listeners is None:
                continue
            listeners.discard(sub)
            if not listeners:
                del self._listeners[channel]
                self._ready.pop(channel, None)
                last.append(channel)
        if last:
            await self._unlisten(last)

    def _deliver(self, channel: str, payload: bytes) -> None:
        for sub in tuple(self._listeners.get(channel, ())):
            sub._put(channel, payload)
