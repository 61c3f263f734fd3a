"""What every websocket endpoint of ours does the same way: read the client's JSON frames, take the next burst of
events of a single-channel feed, and stop a connection's reader task and subscription cleanly when it ends
(operator console, customer portal, web chat widget)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
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
        self._memo: collections.OrderedDict[tuple[int, tuple[tuple[str, Any], ...], bytes], bytes] = (
            collections.OrderedDict())
        """Oldest first (an OrderedDict: see realtime.hub.JoinMemo)."""

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
                oldest, dropped = self._memo.popitem(last=False)
                self.size -= len(oldest[2]) + len(dropped)
        return out


DEFLATE = DeflateMemo()
"""The process's memo of compressed messages (see `lean_compression`)."""


class WireFrames:
    """Server-to-client text frames as they go on the wire (header and payload, compressed when the socket
    negotiated the lean permessage-deflate), built once per message string and written as they are to every socket
    that is sent that string (see `direct_send`).

    Keyed by the string's identity (the sockets of one audience are handed the same string object: one rendered
    message, or one frame joined by realtime.hub.JoinMemo), so a hit hashes nothing; an entry keeps its string alive,
    so the id cannot be reused while it is kept (and the entry checks it is the same object). A miss compresses
    through `DEFLATE`, keyed by content, so equal strings built apart still deflate once. Bounded by `budget` bytes
    (string plus frame), the oldest forgotten first."""

    def __init__(self, budget: int = 4 << 20) -> None:
        self.budget = budget
        self.size = 0
        self.hits = 0
        self.misses = 0
        self.protocol: type | None = None
        """uvicorn's websocket protocol class whose sockets `direct_send` writes to (set by `lean_compression`)."""
        self._memo: collections.OrderedDict[tuple[int, int, tuple[tuple[str, Any], ...]], tuple[str, bytes]] = (
            collections.OrderedDict())

    def frame(self, text: str, wbits: int = 0, settings: tuple[tuple[str, Any], ...] = ()) -> bytes:
        """`text` as one unmasked, final text frame; deflated (RSV1 set) with `wbits` unless it is 0."""
        key = (id(text), wbits, settings)
        hit = self._memo.get(key)
        if hit is not None and hit[0] is text:
            self.hits += 1
            return hit[1]
        self.misses += 1
        payload = text.encode()
        head = 0x81  # FIN, text
        if wbits:
            payload = DEFLATE.compress(payload, wbits, settings)
            head |= 0x40  # RSV1: compressed (RFC 7692 §6)
        length = len(payload)
        if length < 126:
            out = struct.pack("!BB", head, length) + payload
        elif length < 65536:
            out = struct.pack("!BBH", head, 126, length) + payload
        else:
            out = struct.pack("!BBQ", head, 127, length) + payload
        if 2 * (len(text) + len(out)) <= self.budget:
            self._memo[key] = (text, out)
            self.size += len(text) + len(out)
            while self.size > self.budget:
                _key, (text_out, frame_out) = self._memo.popitem(last=False)
                self.size -= len(text_out) + len(frame_out)
        return out


WIRE = WireFrames()
"""The process's frames built lately (see `direct_send`)."""


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
    WIRE.protocol = impl.WebSocketsSansIOProtocol
    if getattr(impl.ServerPerMessageDeflateFactory, "lean", False):
        return

    class SharedDeflate(PerMessageDeflate):
        shared = True
        """Compresses a whole message through `DEFLATE`: `direct_send` may frame it itself (`WIRE`)."""

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


def _server_protocol(send: Any, protocol: type) -> Any:
    """The server's protocol object behind an ASGI `send` callable, or None: `send` is the server's bound method
    wrapped in closures by the framework and middleware (Litestar's socket and before_send wrappers), so follow the
    closures' callables (a bounded walk, once per socket) to a bound method of a `protocol` instance."""
    todo, seen = [send], 0
    while todo and seen < 32:
        fn = todo.pop()
        seen += 1
        owner = getattr(fn, "__self__", None)
        if isinstance(owner, protocol):
            return owner
        for cell in getattr(fn, "__closure__", None) or ():
            with contextlib.suppress(ValueError):  # an empty cell
                if callable(cell.cell_contents):
                    todo.append(cell.cell_contents)
    return None


def direct_send(socket: WebSocket[Any, Any, Any]) -> Callable[[str], Awaitable[None]]:
    """`socket.send_text` for an accepted socket, writing the frame straight to its transport when it can.

    Sending a message through the ASGI chain costs, per socket: Litestar's and the app's send wrappers, uvicorn's
    send, websockets' framing and the deflate memo's lookup (hashing the frame's bytes), then the write. For one
    message sent to many sockets all that yields the same bytes each time (no context takeover: see
    `lean_compression`), so the frame is built once (`WIRE`, keyed by the string's identity) and each socket costs a
    transport write. Only under uvicorn's websockets-sansio protocol with no extension or exactly our lean deflate,
    and only while the socket is open: the write waits, as uvicorn's own send does, while the transport's buffer is
    over its high-water mark; a socket closing, closed or disconnected goes through `socket.send_text`, which says
    so as it always did. Frames cannot interleave: uvicorn writes each frame (pings, pongs, the close) to the
    transport in one synchronous call too.

    The returned `send` also carries `send.write_now(text) -> bool`, the same write without awaiting: the hub's feed
    calls it for a socket whose writer is idle (nothing queued), so a caught-up socket costs one write per message,
    not a queue, a task switch and a coroutine (realtime.hub.Connection.offer). It writes nothing and answers False
    when the socket is not open or its transport is over the high-water mark: the message is then queued."""
    protocol = WIRE.protocol
    proto = _server_protocol(socket.send, protocol) if protocol is not None else None
    conn = getattr(proto, "conn", None)
    if proto is None or proto.scope is not socket.scope or conn is None or getattr(conn.state, "name", "") != "OPEN":
        return socket.send_text
    extensions = list(conn.extensions)
    wbits, settings = 0, ()
    if extensions:
        ext = extensions[0]
        if len(extensions) > 1 or not getattr(ext, "shared", False) or not ext.local_no_context_takeover:
            return socket.send_text
        wbits, settings = ext.local_max_window_bits, ext.settings
    open_state, writable, transport = conn.state, proto.writable, proto.transport

    def write_now(text: str) -> bool:
        """Write `text`'s frame now if the socket is open and its transport takes more (False: it did not)."""
        if (not writable.is_set() or proto.disconnected or proto.close_sent or conn.state is not open_state
                or transport.is_closing() or socket.connection_state == "disconnect"):
            return False
        transport.write(WIRE.frame(text, wbits, settings))
        return True

    async def send(text: str) -> None:
        if not writable.is_set():
            await writable.wait()
        if not write_now(text):
            await socket.send_text(text)

    send.write_now = write_now  # type: ignore[attr-defined]
    return send


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
