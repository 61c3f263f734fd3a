"""Console websockets driven from their own process, for bench_realtime: the server's CPU is not shared with
the clients' (`python -m tests.bench.console_fleet`, one JSON command per line on stdin, one JSON answer per line
on stdout).

Commands: {"op": "connect", "targets": [[ws_url, origin, tenant_idx, slug, token], ...]} opens consoles (each waits
for the hub's ready marker); {"op": "watch", "event": "a,b"} starts counting the frames of these events from zero;
{"op": "count"} how many of its messages arrived so far; {"op": "collect"} every arrival (tenant_idx, event id,
time), the websocket frames and the messages they carried since `watch`; {"op": "close"} closes all and exits.
Times are `time.perf_counter()` (CLOCK_MONOTONIC on Linux: the same clock in every process of the machine), taken
when a frame is read. A frame may carry several events' messages (the hub coalesces what queued while a socket's
writer was busy): every `#sb-last-event` marker in it counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import resource
import sys
import time
from collections import Counter
from typing import Any

MARKER_RE = re.compile(r'<div id="sb-last-event" hx-swap-oob="true" hidden data-event-id="\d+\.(\d+)"'
                       r'(?: data-event="([a-z_.]+)")?')


class Consoles:
    def __init__(self) -> None:
        self.socks: list[tuple[Any, asyncio.Task[None]]] = []
        self.watch: set[str] = set()
        self.arrivals: list[tuple[int, int, float]] = []
        self.frames = 0
        self.messages = 0
        self.frames_total = 0
        self.close_codes: Counter[str] = Counter()

    async def connect_many(self, targets: list[list[Any]], concurrency: int = 50) -> float:
        sem = asyncio.Semaphore(concurrency)

        async def one(t: list[Any]) -> None:
            async with sem:
                await self.connect(*t)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(t) for t in targets))
        return time.perf_counter() - t0

    async def connect(self, ws_url: str, origin: str, ti: int, slug: str, token: str) -> None:
        from websockets.asyncio.client import connect

        ws = await connect(f"{ws_url}/t/{slug}/ws?last_id=", origin=origin,  # type: ignore[arg-type]
                           additional_headers={"Cookie": f"sb_session={token}"}, open_timeout=120,
                           ping_interval=None, close_timeout=2, max_size=None, max_queue=None)
        deadline = time.monotonic() + 120
        while True:
            msg = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
            if 'data-ready="true"' in msg:
                break
        self.socks.append((ws, asyncio.create_task(self._read(ws, ti))))

    async def _read(self, ws: Any, ti: int) -> None:
        from websockets.exceptions import ConnectionClosed

        clock = time.perf_counter
        try:
            async for msg in ws:
                t = clock()
                self.frames_total += 1
                if not self.watch:
                    continue
                hit = False
                for m in MARKER_RE.finditer(msg):
                    if m.group(2) in self.watch:
                        self.arrivals.append((ti, int(m.group(1)), t))
                        self.messages += 1
                        hit = True
                if hit:
                    self.frames += 1
        except ConnectionClosed as exc:
            self.close_codes[str(exc.rcvd.code if exc.rcvd is not None else None)] += 1
        except Exception:
            self.close_codes["error"] += 1

    async def close_all(self) -> None:
        sem = asyncio.Semaphore(200)

        async def one(ws: Any, task: asyncio.Task[None]) -> None:
            async with sem:
                with contextlib.suppress(Exception):
                    await ws.close()
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

        await asyncio.gather(*(one(ws, task) for ws, task in self.socks))
        self.socks.clear()


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
                consoles.watch = set(cmd["event"].split(","))
                consoles.arrivals, consoles.frames, consoles.messages = [], 0, 0
                answer({})
            elif op == "count":
                answer({"arrivals": len(consoles.arrivals), "frames_total": consoles.frames_total})
            elif op == "collect":
                answer({"arrivals": consoles.arrivals, "frames": consoles.frames, "messages": consoles.messages,
                        "close_codes": dict(consoles.close_codes)})
            elif op == "close":
                await consoles.close_all()
                answer({})
                break
        except Exception as exc:  # the bench prints it
            answer({"error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve())
