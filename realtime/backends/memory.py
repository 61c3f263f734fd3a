"""In-process broadcast for the embedded default (one web process, no Redis)."""

from __future__ import annotations

from realtime.backends.base import BroadcastBackend


class MemoryBackend(BroadcastBackend):
    """Publishing delivers straight to this process's subscriptions."""

    name = "memory"

    async def publish(self, channel: str, payload: bytes) -> None:
        self._deliver(channel, payload)

    async def _listen(self, channels: list[str]) -> None:
        return None

    async def _unlisten(self, channels: list[str]) -> None:
        return None
