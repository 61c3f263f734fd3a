"""Bare ASGI websocket servers for the baselines: served by the same uvicorn (same websocket implementation, same
event loop) as the app, so the difference per socket or per message is ours. One shape (lifespan handshake, accept,
"ok" to any HTTP request, so `harness.app_server` finds /health), two conversations, each an app factory:

- `idle`: a ready frame, then wait for the client to leave (the idle-console baseline, tests/bench/bench_realtime.py);
  BARE_WS_LEAN=1 uses the app's compression setting (realtime.sockets).
- `echo`: every text frame comes straight back (the chat round-trip floor, tests/bench/bench_chat.py).

Not a bench module (no `bench_` prefix): `harness.app_server(factory="tests.bench.bare_ws:idle")` starts one."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from tests.servers import answer_lifespan

if os.environ.get("BARE_WS_LEAN") == "1":  # the same compression setting as the app (realtime.sockets)
    from realtime.sockets import lean_compression

    lean_compression()

Converse = Callable[[Any, Any], Awaitable[None]]
"""What a bare server says on an accepted websocket: converse(receive, send), returning when the client has left."""


def _bare(converse: Converse) -> Callable[[dict[str, Any], Any, Any], Awaitable[None]]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            await converse(receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def _idle(receive: Any, send: Any) -> None:
    await send({"type": "websocket.send", "text": '<div data-ready="true"></div>'})
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def _echo(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})


def idle() -> Callable[[dict[str, Any], Any, Any], Awaitable[None]]:
    return _bare(_idle)


def echo() -> Callable[[dict[str, Any], Any, Any], Awaitable[None]]:
    return _bare(_echo)
