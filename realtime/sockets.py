"""What every websocket endpoint of ours does the same way: read the client's JSON frames, and stop a connection's
reader task and subscription cleanly when it ends (operator console, customer portal, web chat widget)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from litestar import WebSocket


async def json_frames(socket: WebSocket[Any, Any, Any]) -> AsyncIterator[dict[str, Any]]:
    """The client's frames that are JSON objects, in order; anything else is skipped (clients are not trusted).
    Ends by raising WebSocketDisconnect when the client goes away."""
    while True:
        raw = await socket.receive_text()
        try:
            msg = json.loads(raw)
        except ValueError:
            continue
        if isinstance(msg, dict):
            yield msg


async def stop_reader(receiver: asyncio.Task[Any]) -> None:
    receiver.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await receiver


async def finish(socket: WebSocket[Any, Any, Any], receiver: asyncio.Task[Any], sub: Any) -> None:
    """End a single-channel feed: stop reading, drop the subscription, close the socket if it is still open."""
    await stop_reader(receiver)
    await sub.close()
    with contextlib.suppress(Exception):
        await socket.close()
