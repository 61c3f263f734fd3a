"""CPU per websocket frame of the two ways the hub can send (`python -m tests.bench.send_path [sockets]`): Litestar's
`socket.send_text` through the ASGI chain (the app's before_send wrapper, uvicorn's send, websockets' framing and
the lean deflate) against `realtime.sockets.direct_send` (one frame built per message string, written to each
socket's transport). One message is sent to every socket, 20 messages a round, rounds alternating; CPU time of
the sending loop only (it never yields while the transports take the bytes; the clients read between rounds), so
the figure moves little with the load on the machine. Not a bench module (no `bench_` prefix)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any

import uvicorn
from litestar import Litestar, WebSocket, websocket
from websockets.asyncio.client import connect

from realtime.sockets import direct_send, lean_compression

ROUNDS = 6
MESSAGES = [f"<div id='x{i}' hx-swap-oob='true'>{'item ' * 60}</div>" for i in range(20)]


async def _noop_hook(message: Any, scope: Any) -> None:
    """A before_send hook, as the app has: Litestar wraps `send` for it."""


async def run(n: int) -> dict[str, list[float]]:
    lean_compression()
    sockets: list[WebSocket[Any, Any, Any]] = []
    ready = asyncio.Event()

    @websocket("/ws")
    async def handler(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        sockets.append(socket)
        if len(sockets) == n:
            ready.set()
        with contextlib.suppress(Exception):
            while True:
                await socket.receive_text()

    config = uvicorn.Config(Litestar([handler], before_send=[_noop_hook]), host="127.0.0.1", port=0,
                            ws="websockets-sansio", log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # it failed to start: say why
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    clients = [await connect(f"ws://127.0.0.1:{port}/ws") for _ in range(n)]  # permessage-deflate offered
    await ready.wait()

    async def drain(client: Any) -> None:
        async for _ in client:
            pass

    readers = [asyncio.create_task(drain(c)) for c in clients]
    paths = {"ASGI send_text": [s.send_text for s in sockets], "direct_send": [direct_send(s) for s in sockets]}
    figures: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(ROUNDS):
        for name, sends in paths.items():
            started = time.process_time()
            for message in MESSAGES:
                for send in sends:
                    await send(message)
            figures[name].append((time.process_time() - started) / (len(MESSAGES) * n) * 1e6)
            await asyncio.sleep(0.3)
    for client in clients:
        await client.close()
    await asyncio.gather(*readers, return_exceptions=True)
    server.should_exit = True
    await serving
    return figures


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    figures = asyncio.run(run(n))
    medians = {name: sorted(v)[len(v) // 2] for name, v in figures.items()}
    for name, values in figures.items():
        print(f"{name}: {medians[name]:.2f} µs CPU per frame, median of {len(values)} rounds of "
              f"{len(MESSAGES)} x {n} frames ({', '.join(f'{x:.2f}' for x in sorted(values))})")
    print(f"direct / ASGI: {medians['direct_send'] / medians['ASGI send_text']:.2f}")


if __name__ == "__main__":
    main()
