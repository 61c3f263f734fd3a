"""`switchboard worker` with one extra durable listener, for the crash test in test_spine.py: each call writes the
event id to a trace file (outside any transaction, so it survives a kill), then one effect row in the tenant's
`spine_effect` table (inside the listener's transaction), then sleeps so that a batch takes seconds."""

from __future__ import annotations

import asyncio
import os

from app import listeners
from app.cli import main
from app.lib.db import current_uow
from realtime.durable import DurableListener
from realtime.events import Event


async def slow_effect(event: Event) -> None:
    fd = os.open(os.environ["SPINE_TEST_TRACE"], os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, f"{event.id}\n".encode())
    finally:
        os.close(fd)
    await current_uow().connection.execute("INSERT INTO spine_effect (event_id) VALUES ($1)", event.id)
    await asyncio.sleep(0.05)


if __name__ == "__main__":
    listeners.DURABLE.append(DurableListener("test.slow_effect", slow_effect, frozenset({"contact.updated"})))
    main(["worker"])
