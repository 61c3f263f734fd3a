"""A feed's backlog renders in batches (realtime.hub `TenantFeed._catch_up`): consecutive events go to ONE
`realtime.render.frames_of` call (one unit of work) instead of one each, the batches render side by side, and every
event is still queued once and in position order. What a failing renderer does inside a batch is checked against the
real renderers in tests/integration/test_realtime_audience.py."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from app.lib.db import TenantRef
from realtime import hub
from realtime.events import Event, Position
from realtime.hub import RENDER_AHEAD, RENDER_BATCH, Connection, TenantFeed

TENANT = TenantRef(1, "shop", "t_shop")


def _event(n: int, topic: str = "queue") -> Event:
    return Event(id=n, tx=1, name="queue.item_added", tenant="shop", at=dt.datetime.now(dt.UTC), channels=(topic,))


def _conn() -> Connection:
    viewer = type("V", (), {"user_id": 1, "role": "operator", "language": "", "timezone": ""})()

    async def send(text: str) -> None:
        return None

    return Connection(TENANT, viewer, send, counts_presence=False, topics=["queue"])  # type: ignore[arg-type]


async def test_a_backlog_renders_in_batches_and_every_event_is_queued_once_in_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    events = [_event(n) for n in range(1, 12)] + [_event(12, "user:99")]  # the last one: nobody here hears it
    batches: list[list[int]] = []

    async def read(after: Position, **_: Any) -> list[Event]:
        return [e for e in events if e.position > after]

    async def frames_of(batch: Sequence[tuple[Event, Sequence[Any]]], tenant: TenantRef) -> list[list[str]]:
        batches.append([event.id for event, _ in batch])
        return [[f"m{event.id}"] * len(viewers) for event, viewers in batch]

    @contextlib.asynccontextmanager
    async def no_db(tenant: TenantRef) -> AsyncIterator[None]:
        yield None

    monkeypatch.setattr(hub, "tenant_context", no_db)
    monkeypatch.setattr(hub.event_log, "read", read)
    monkeypatch.setattr(hub, "frames_of", frames_of)
    feed = TenantFeed(None, TENANT)  # type: ignore[arg-type]
    conn = _conn()
    feed.conns.add(conn)
    deliver = asyncio.create_task(feed._deliver())
    await feed._catch_up()
    for _ in range(1000):  # until the feed's deliverer has queued every batch
        if not feed._rendering:
            break
        await asyncio.sleep(0)
    deliver.cancel()

    queued = []
    while not conn.inbox.empty():
        item = conn.inbox.get_nowait()
        assert item is not None
        queued.append(item)
    assert queued == [(e.position, f"m{e.id}") for e in events[:11]]  # each once, in order; 12 heard by nobody
    assert feed.wm == events[-1].position
    # 12 events over RENDER_AHEAD batches of consecutive events (3 each, at most RENDER_BATCH), one call each.
    assert len(batches) == RENDER_AHEAD and all(len(b) <= RENDER_BATCH for b in batches)
    assert [n for b in batches for n in b] == list(range(1, 13)) and batches[0] == [1, 2, 3]
