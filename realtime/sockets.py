"""What every websocket endpoint of ours does the same way: read the client's JSON frames, take the next burst of
events of a single-channel feed, and stop a connection's reader task and subscription cleanly when it ends
(operator console, customer portal, web chat widget)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import structlog
from litestar import WebSocket

from realtime.events import Event, decode

log = structlog.get_logger(__name__)


class DeflateMemo:
    """The compressed payloads of the messages sent lately, shared by every socket of the process.

    Without context takeover a message compresses to the same bytes whichever socket sends it (the same window bits
    and settings, a fresh zlib stream each time), so the frame that the 200 consoles of an audience receive is
    deflated once, not 200 times. Keyed by the message's bytes (equal content, not identity: nothing of one tenant
    can reach another's socket through it, a socket only ever gets the compressed form of what it was sent);
    bounded by `budget` bytes (input plus output), the oldest forgotten first."""

    def __init__(self, budget: int = 4 << 20) -> None:
        self.budget = budget
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._memo: dict[tuple[int, tuple[tuple[str, Any], ...], bytes], bytes] = {}

    def compress(self, data: bytes, wbits: int, settings: tuple[tuple[str, Any], ...] = ()) -> bytes:
        """`data` as one compressed permessage-deflate message (RFC 7692 §7.2.1: the 00 00 ff ff tail removed)."""
        key = (wbits, settings, data)
        out = self._memo.get(key)
        if out is not None:
            self.hits += 1
            return out
        self.misses += 1
        encoder = zlib.compressobj(wbits=-wbits, **dict(settings))
        out = encoder.compress(data) + encoder.flush(zlib.Z_SYNC_FLUSH)
        out = out[:-4]
        if 2 * len(data) <= self.budget:
            self._memo[key] = out
            self.size += len(data) + len(out)
            while self.size > self.budget:
                oldest = next(iter(self._memo))
                self.size -= len(oldest[2]) + len(self._memo.pop(oldest))
        return out


DEFLATE = DeflateMemo()
"""The process's memo of compressed messages (see `lean_compression`)."""


def lean_compression() -> None:
    """Keep permessage-deflate, but without a compression context kept per socket between messages, and compress
    a message sent to many sockets once.

    uvicorn's websocket protocol (websockets-sansio, the `auto` choice) negotiates permessage-deflate with a zlib
    compressor and decompressor per socket that live as long as the socket: about 33 KB of its ~54 KB per idle
    socket (2,000 idle sockets on a bare ASGI app: 53.8 KB each with it, 20.9 KB with this; see tests/bench/
    bench_realtime's idle figures). With `no_context_takeover` both ways, each message is compressed on its own and
    the zlib state is freed after it: frames stay compressed (less well: no shared dictionary across messages), idle
    sockets cost none. Browsers must honour client_no_context_takeover (RFC 7692 §7.1.1.1). And since a message
    then compresses to the same bytes for every socket, a whole message (one unfragmented text or binary frame) is
    compressed through `DEFLATE`: once per distinct message, not once per socket. uvicorn builds its factory by this
    module-level name for every new socket, so rebinding it applies to the sockets opened after."""
    try:
        # deferred import: only the web server's process has a websocket server to tune; uvicorn may lack it
        from uvicorn.protocols.websockets import websockets_sansio_impl as impl
        from websockets.extensions.permessage_deflate import (  # deferred import: same
            PerMessageDeflate,
            ServerPerMessageDeflateFactory,
        )
    except ImportError:
        return
    if getattr(impl.ServerPerMessageDeflateFactory, "lean", False):
        return

    class SharedDeflate(PerMessageDeflate):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.settings = tuple(sorted(self.compress_settings.items()))

        def encode(self, frame: Any) -> Any:
            if frame.fin and frame.opcode in (1, 2) and self.local_no_context_takeover:  # a whole data message
                data = DEFLATE.compress(bytes(frame.data), self.local_max_window_bits, self.settings)
                return dataclasses.replace(frame, data=data, rsv1=True)
            return super().encode(frame)

    class LeanDeflateFactory(ServerPerMessageDeflateFactory):
        lean = True

        def __init__(self, **kwargs: Any) -> None:
            kwargs.update(server_no_context_takeover=True, client_no_context_takeover=True)
            super().__init__(**kwargs)

        def process_request_params(self, params: Any, accepted_extensions: Any) -> Any:
            response, ext = super().process_request_params(params, accepted_extensions)
            return response, SharedDeflate(ext.remote_no_context_takeover, ext.local_no_context_takeover,
                                           ext.remote_max_window_bits, ext.local_max_window_bits,
                                           ext.compress_settings)

    impl.ServerPerMessageDeflateFactory = LeanDeflateFactory  # type: ignore[misc]


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


async def next_burst(sub: Any, receiver: asyncio.Task[Any], *, tenant: str, channel: str, topic: str,
                     idle: float | None = None) -> list[Event] | None:
    """Wait for the feed's next event, then take every event already waiting too (one burst, in order). Only events
    that came on `channel` and say themselves they are the tenant's and on `topic` are kept (belt and braces: the
    subscription names that one channel). None: the client went away (`receiver` ended). After `idle` seconds
    without an event: an empty burst."""
    getter = asyncio.ensure_future(sub.get())
    done, _ = await asyncio.wait({getter, receiver}, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
    if receiver in done:
        getter.cancel()
        return None
    raw = []
    if getter in done:
        raw.append(getter.result())
    else:
        getter.cancel()
    with contextlib.suppress(asyncio.QueueEmpty):
        while True:
            raw.append(sub.get_nowait())
    events = []
    for came_on, payload in raw:
        try:
            event = decode(payload)
        except Exception:
            log.warning("feed_bad_payload", tenant=tenant, channel=came_on)
            continue
        if came_on == channel and event.tenant == tenant and topic in event.channels:
            events.append(event)
    return events


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
