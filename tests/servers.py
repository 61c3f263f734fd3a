"""Real uvicorn servers for tests: in the test's event loop (sharing its pool) or as separate processes."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import html
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from realtime.events import Position

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def answer_lifespan(receive: Any, send: Any) -> None:
    """The lifespan protocol for a bare ASGI app with nothing to start or stop (test receivers, bench baselines):
    startup complete, then shutdown complete when uvicorn stops it."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Leave Ctrl-C to pytest: an in-loop server must not swallow the test run's signals.
        yield


class InProcessServer:
    """uvicorn serving `app` on a loopback port inside the running event loop: the app shares the test's
    database pool and realtime runtime (its lifespan sees them started and leaves them alone)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> InProcessServer:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, lifespan="on", ws="websockets-sansio",
                                log_level="warning")
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve())
        deadline = time.monotonic() + 10
        while not self._server.started:
            if self._task.done():
                self._task.result()
            if time.monotonic() > deadline:
                raise TimeoutError("in-process server did not start")
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._task, 15)


class ServerProcess:
    """`uvicorn app.asgi:create_app` in its own process, configured through the environment like production."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="sb-server-", suffix=".log", delete=False)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        cmd = [sys.executable, "-m", "uvicorn", "app.asgi:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(self.port), "--ws", "websockets-sansio", "--lifespan", "on", "--log-level", "warning"]
        self.proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **self.env}, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        return self

    async def wait_ready(self, wait: float = 30) -> None:
        deadline = time.monotonic() + wait
        last = "no answer"
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
                try:
                    health = await client.get(self.url + "/health", timeout=2)
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                else:
                    if health.status_code == 200:
                        return
                    last = f"/health {health.status_code}: {health.text[:500]}"
                await asyncio.sleep(0.1)
        raise TimeoutError(f"server on {self.url} not ready ({last}):\n{self.output()}")

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-5000:]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        end_process(self.proc, self.log, sig)


def end_process(proc: subprocess.Popen[Any] | None, log: Any, sig: int = signal.SIGTERM, wait: float = 15,
                then: float = 5) -> None:
    """Stop a test's child process: `sig`, `wait` seconds for it to go, else SIGKILL; then drop its log file."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(then)
    log.close()
    with contextlib.suppress(OSError):
        os.unlink(log.name)


async def start_processes(count: int, env: dict[str, str]) -> list[ServerProcess]:
    servers = [ServerProcess(env).start() for _ in range(count)]
    try:
        await asyncio.gather(*(s.wait_ready() for s in servers))
    except BaseException:
        for s in servers:
            s.stop()
        raise
    return servers


# -- a console's websocket, as the browser's htmx ws extension would hold it ----------------------------------

_MARKER_RE = re.compile(r'<div id="sb-last-event"([^>]*)>')
_ATTR_RE = re.compile(r'data-([a-z-]+)="([^"]*)"')
_MESSAGE_END_RE = re.compile(r'<div id="sb-last-event"[^>]*></div>')


def split_messages(text: str) -> list[str]:
    """The events' messages one websocket frame carries: the hub joins what queued up while a socket was busy
    (realtime.hub `Connection.pump`), each message ending with its `#sb-last-event` marker."""
    out, start = [], 0
    for m in _MESSAGE_END_RE.finditer(text):
        out.append(text[start:m.end()])
        start = m.end()
    if start < len(text) or not out:
        out.append(text[start:])
    return out


@dataclass
class Frame:
    """One message from the hub: its fragments and the `#sb-last-event` marker that ends it."""

    text: str
    event_id: Position
    """The log position the marker carries (the socket's cursor)."""
    event: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    refresh: bool = False
    ready: bool = False


def parse_frame(text: str) -> Frame:
    match = _MARKER_RE.search(text)
    assert match, f"no #sb-last-event marker in {text!r}"
    attrs = {k: html.unescape(v) for k, v in _ATTR_RE.findall(match.group(1))}
    return Frame(text=text, event_id=Position.parse(attrs["event-id"]), event=attrs.get("event"),
                 payload=json.loads(attrs["payload"]) if "payload" in attrs else {},
                 refresh=attrs.get("refresh") == "true", ready=attrs.get("ready") == "true")


class ConsoleSocket:
    """A websocket to `/t/{slug}/ws` with a session cookie and an Origin header."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self._pending: collections.deque[str] = collections.deque()
        self.ws_frames = 0
        """Websocket frames read (one may carry several events' messages: `frame()` returns them one by one)."""

    @classmethod
    async def open(cls, base_ws_url: str, slug: str, token: str | None, origin: str | None,
                   last_id: Position | None = None, query: str = "", hello: bool = False,
                   compression: str | None = "deflate") -> ConsoleSocket:
        """`last_id=None` connects with no cursor (`?last_id=`); `hello=True` leaves it out of the URL, for a
        first message to carry it; `compression=None` offers no permessage-deflate."""
        from websockets.asyncio.client import connect

        url = f"{base_ws_url}/t/{slug}/ws"
        cursor = "" if hello else f"last_id={'' if last_id is None else last_id}"
        params = [p for p in (cursor, query) if p]
        if params:
            url += "?" + "&".join(params)
        headers = {"Cookie": f"sb_session={token}"} if token else {}
        ws = await connect(url, origin=origin, additional_headers=headers, open_timeout=10,  # type: ignore[arg-type]
                           compression=compression)
        return cls(ws)

    async def frame(self, wait: float = 5) -> Frame:
        """The next event's message (a coalesced websocket frame is split into its messages, in order)."""
        if not self._pending:
            self._pending.extend(split_messages(await asyncio.wait_for(self.ws.recv(), wait)))
            self.ws_frames += 1
        return parse_frame(self._pending.popleft())

    async def ready(self, wait: float = 5) -> tuple[list[Frame], Frame]:
        """Frames replayed before the ready marker, and the marker itself."""
        frames: list[Frame] = []
        while True:
            f = await self.frame(wait)
            if f.ready:
                return frames, f
            frames.append(f)

    async def until(self, predicate: Any, wait: float = 5) -> list[Frame]:
        """Frames up to and including the first one matching `predicate`."""
        frames: list[Frame] = []
        deadline = time.monotonic() + wait
        while True:
            f = await self.frame(max(0.01, deadline - time.monotonic()))
            frames.append(f)
            if predicate(f):
                return frames

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def close(self) -> None:
        await self.ws.close()


# -- the realtime runtime of the test process ----------------------------------------------------------------

REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unique_redis_prefix() -> str:
    """A Redis prefix no other test run (or xdist worker, or test) shares."""
    return f"sbtest-{os.getpid()}-{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}-{os.urandom(4).hex()}"


@contextlib.asynccontextmanager
async def realtime_runtime(kind: str, prefix: str | None = None) -> Any:
    """Install a memory or Redis realtime runtime as this process's (an in-process server then shares it)."""
    from realtime import runtime as rt_mod
    from realtime.backends.memory import MemoryBackend
    from realtime.backends.redis import RedisBackend
    from realtime.hub import Hub
    from realtime.presence import MemoryPresence, RedisPresence

    await rt_mod.stop()  # whatever an earlier test started lazily
    if kind == "memory":
        backend: Any = MemoryBackend()
        presence: Any = MemoryPresence()
    else:
        prefix = prefix or unique_redis_prefix()
        backend, presence = RedisBackend(REDIS_TEST_URL, prefix), RedisPresence(REDIS_TEST_URL, prefix)
    rt = rt_mod.Runtime(backend=backend, presence=presence, hub=Hub(backend, presence))
    await rt_mod.start(rt)
    try:
        yield rt
    finally:
        await rt_mod.stop()
