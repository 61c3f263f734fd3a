"""Console websockets for bench_realtime, in their own process (`python -m tests.bench.console_fleet`, one JSON
command per line on stdin, one JSON answer per line on stdout) or in the bench's (`Consoles` is bench_realtime's
`Fleet`), so the server's CPU need not be shared with the clients' event loop.

Commands: {"op": "connect", "targets": [[ws_url, origin, tenant_idx, slug, token], ...]} opens consoles (each waits
for the hub's ready marker); {"op": "watch", "event": "a,b"} starts counting the frames of these events from zero;
{"op": "count"} how many of its messages arrived so far; {"op": "collect"} every arrival (tenant_idx, event id,
time), the websocket frames and the messages they carried since `watch`; {"op": "close"} closes all and exits.
Times are `time.perf_counter()` (CLOCK_MONOTONIC on Linux: the same clock in every process of the machine), taken
when the bytes of a frame are read. A frame may carry several events' messages (the hub coalesces what queued while
a socket's writer was busy): every `#sb-last-event` marker in it counts.

The client is lean on purpose, as `wrk` is for HTTP: an asyncio protocol per socket that speaks RFC 6455 itself
(the upgrade, frames, permessage-deflate inflated with zlib per message as a browser does under
no_context_takeover, pings answered, a masked close), about a tenth of the CPU per frame of the `websockets`
library's client. At 2,000 consoles x 20 events/s each (40,000 frames/s) the library's client alone wanted most of
a core of this 2-core machine, and a starved client reads its frames late: that was measured as the server's
latency. The server is exactly what a browser talks to (tests/integration/test_realtime_ws.py drives it with a
real client and headless Chromium).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import resource
import sys
import time
import zlib
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

MARKER_RE = re.compile(r'<div id="sb-last-event" hx-swap-oob="true" hidden data-event-id="\d+\.(\d+)"'
                       r'(?: data-event="([a-z_.]+)")?')
_TAIL = b"\x00\x00\xff\xff"


def _masked(opcode: int, payload: bytes) -> bytes:
    """A client frame (RFC 6455 §5.3: a client masks what it sends), final, small."""
    key = os.urandom(4)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes((0x80 | opcode, 0x80 | len(payload))) + key + body


class _Socket(asyncio.Protocol):
    """One console: the upgrade, then the server's frames parsed as they come; each whole text message is handed
    to `on_message(text, t)` with the time its last bytes were read."""

    def __init__(self, owner: Consoles, ti: int) -> None:
        self.owner = owner
        self.ti = ti
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.parts: list[bytes] = []
        self.compressed = False
        self.close_code: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before ready ({self.close_code})"))
        if not self.lost.done():
            self.lost.set_result(None)
            self.owner.close_codes[str(self.close_code)] += 1

    def data_received(self, data: bytes) -> None:
        t = time.perf_counter()
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            del buf[:end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace")))
                assert self.transport is not None
                self.transport.close()
                return
            self.upgraded = True
        while len(buf) >= 2:
            b0, n = buf[0], buf[1] & 0x7F
            off = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, off = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, off = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < off + n:
                return
            payload = bytes(buf[off:off + n])
            del buf[:off + n]
            self._frame(b0, payload, t)

    def _frame(self, b0: int, payload: bytes, t: float) -> None:
        opcode = b0 & 0x0F
        if opcode in (0, 1, 2):
            if opcode:
                self.compressed = bool(b0 & 0x40)
            self.parts.append(payload)
            if not b0 & 0x80:
                return
            data = b"".join(self.parts)
            self.parts = []
            if self.compressed:
                data = zlib.decompressobj(-15).decompress(data + _TAIL)
            self.owner.on_message(self, data.decode(), t)
        elif opcode == 8:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
            assert self.transport is not None
            self.transport.write(_masked(8, payload[:2]))
            self.transport.close()
        elif opcode == 9:
            assert self.transport is not None
            self.transport.write(_masked(10, payload))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_masked(8, (1000).to_bytes(2, "big")))


class Consoles:
    """Console sockets of this process; every message of a watched event is timestamped on arrival."""

    def __init__(self) -> None:
        self.socks: list[_Socket] = []
        self.per_tenant: Counter[int] = Counter()
        self.watch_set: set[str] = set()
        self.arrivals: list[tuple[int, int, float]] = []
        self.frames = 0
        self.messages = 0
        self.frames_total = 0
        self.close_codes: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self.socks)

    async def connect_many(self, targets: list[Any], concurrency: int = 50) -> float:
        """targets: (ws_url, origin, tenant_idx, slug, token). Returns the wall time."""
        sem = asyncio.Semaphore(concurrency)

        async def one(t: list[Any]) -> None:
            async with sem:
                await self.connect(*t)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(t) for t in targets))
        return time.perf_counter() - t0

    async def connect(self, ws_url: str, origin: str, ti: int, slug: str, token: str) -> None:
        url = urlsplit(ws_url)
        host, port = url.hostname or "127.0.0.1", url.port or 80
        loop = asyncio.get_running_loop()
        _, sock = await loop.create_connection(lambda: _Socket(self, ti), host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /t/{slug}/ws?last_id= HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                   f"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                   f"Origin: {origin}\r\nCookie: sb_session={token}\r\n\r\n")
        assert sock.transport is not None
        sock.transport.write(request.encode())
        await asyncio.wait_for(sock.ready, 120)
        self.socks.append(sock)
        self.per_tenant[ti] += 1

    def on_message(self, sock: _Socket, text: str, t: float) -> None:
        if not sock.ready.done():
            if 'data-ready="true"' in text:
                sock.ready.set_result(None)
            return
        self.frames_total += 1
        if not self.watch_set:
            return
        hit = False
        for m in MARKER_RE.finditer(text):
            if m.group(2) in self.watch_set:
                self.arrivals.append((sock.ti, int(m.group(1)), t))
                self.messages += 1
                hit = True
        self.frames += hit

    def reset(self, watch: str) -> list[tuple[int, int, float]]:
        self.watch_set = set(watch.split(","))
        self.arrivals, self.frames, self.messages = [], 0, 0
        return self.arrivals

    async def watch(self, event: str) -> None:
        self.reset(event)

    async def count(self) -> tuple[int, int]:
        return len(self.arrivals), self.frames_total

    async def collect(self) -> tuple[list[tuple[int, int, float]], int, int]:
        return self.arrivals, self.frames, self.messages

    async def close_all(self) -> None:
        """Close every socket (a close frame, then up to 2 s for the server's); codes seen go to `close_codes`."""
        for sock in self.socks:
            sock.close()
        pending = [s.lost for s in self.socks if not s.lost.done()]
        if pending:
            await asyncio.wait(pending, timeout=2)
        for sock in self.socks:
            if sock.transport is not None and not sock.lost.done():
                sock.transport.abort()
        self.socks.clear()
        self.per_tenant.clear()


async def serve() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 30)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    consoles = Consoles()

    def answer(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        op = cmd["op"]
        try:
            if op == "connect":
                took = await consoles.connect_many(cmd["targets"])
                answer({"took": took, "open": len(consoles.socks)})
            elif op == "watch":
                await consoles.watch(cmd["event"])
                answer({})
            elif op == "count":
                arrivals, frames_total = await consoles.count()
                answer({"arrivals": arrivals, "frames_total": frames_total})
            elif op == "collect":
                arrivals, frames, messages = await consoles.collect()
                answer({"arrivals": arrivals, "frames": frames, "messages": messages,
                        "close_codes": dict(consoles.close_codes)})
            elif op == "close":
                await consoles.close_all()
                answer({})
                break
        except Exception as exc:  # the bench prints it
            answer({"error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(serve())
