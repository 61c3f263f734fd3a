"""A webhook receiver for bench_webhooks, in its own process (so its work is not counted against the sender's
core): `python -m tests.bench.webhook_receiver PORT` answers every POST with 204 after reading the body."""

from __future__ import annotations

import sys
from typing import Any

import uvicorn

from tests.servers import answer_lifespan


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await answer_lifespan(receive, send)
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False,
                lifespan="on")
