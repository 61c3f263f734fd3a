"""`switchboard twilio-sim` and `switchboard run`: the simulator on a loopback port, with one account and number
pointed at a shop (its phone page at /)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn

from telephony.simulator.core import Simulator
from telephony.simulator.rest import create_app


def build(*, account_sid: str | None, auth_token: str | None, number: str, webhook_base: str,
          devices: list[str] | None = None, shop_widget: str = "") -> tuple[Simulator, Any]:
    """A simulator with one account whose `number` sends calls and SMS to `webhook_base` (…/t/{slug}/webhooks/twilio);
    `devices` are the operator phones its page shows; `shop_widget` the shop's web chat script its /shop embeds."""
    sim = Simulator()
    acct = sim.add_account(account_sid, auth_token)
    base = webhook_base.rstrip("/")
    sim.add_number(acct.sid, number, voice_url=f"{base}/voice", voice_fallback_url=f"{base}/voice-fallback",
                   status_callback=f"{base}/status", sms_url=f"{base}/sms")
    sim.devices = list(devices or [])
    sim.shop_widget = shop_widget
    return sim, create_app(sim)


def serve(host: str, port: int, **kwargs: Any) -> Simulator:
    sim, app = build(**kwargs)
    acct = next(iter(sim.accounts.values()))
    print(f"Twilio simulator on http://{host}:{port}  account {acct.sid}  token {acct.auth_token}  "
          f"number {kwargs['number']} -> {kwargs['webhook_base']}")
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return sim


class _ThreadServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # signals belong to the main thread's server (the app)


class ThreadedSimulator:
    """The simulator `start_in_thread` runs: its uvicorn server and the thread serving it."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread) -> None:
        self.server = server
        self.thread = thread

    def stop(self, timeout: float = 10) -> None:
        """Close its listener and wait for its thread (`switchboard run` on the way out)."""
        self.server.should_exit = True
        self.thread.join(timeout)


def start_in_thread(host: str, port: int, **kwargs: Any) -> ThreadedSimulator:
    """The simulator on its own event loop in a daemon thread, beside the app `switchboard run` serves; built inside
    that loop so its asyncio objects belong to it. Returns once it listens; RuntimeError when it cannot."""
    ready = threading.Event()
    holder: dict[str, uvicorn.Server] = {}

    def main() -> None:
        async def go() -> None:
            _, app = build(**kwargs)
            server = _ThreadServer(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
            holder["server"] = server
            task = asyncio.create_task(server.serve())
            while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn offers no started event)
                await asyncio.sleep(0.02)
            ready.set()
            await task

        try:
            asyncio.run(go())
        finally:  # uvicorn ends a server that cannot bind with sys.exit: say so at once
            ready.set()

    thread = threading.Thread(target=main, name="twilio-simulator", daemon=True)
    thread.start()
    ready.wait(15)
    server = holder.get("server")
    if server is None or not server.started:
        raise RuntimeError(f"the Twilio simulator could not listen on {host}:{port}")
    return ThreadedSimulator(server, thread)
