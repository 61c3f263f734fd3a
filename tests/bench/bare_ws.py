"""A bare ASGI websocket server for the idle-console baseline: accept, then wait for the client to leave. Served by
the same uvicorn (same websocket implementation, same event loop) as the app, so the difference per socket is ours.
Not a bench module (no `bench_` prefix): tests/bench/bench_realtime.py starts it."""

from __future__ import annotations

import os
from typing import Any

if os.environ.get("BARE_WS_LEAN") == "1":  # the same compression setting as the app (realtime.sockets)
    from realtime.sockets import lean_compression

    lean_compression()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": '<div data-ready="true"></div>'})
        while (await receive())["type"] != "websocket.disconnect":
            pass
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})
