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


async def _drain(feed: TenantFeed, events: list[Event], batches: list[list[int]], monkeypatch: pytest.MonkeyPatch,
                 on_render: Any = None) -> Connection:
    """`feed` with one operator's socket reads `events` (no database: the log and the render are stand-ins that
    note each batch's event ids in `batches`) until its deliverer has queued every batch; returns the socket."""

    async def read(after: Position, **_: Any) -> list[Event]:
        return [e for e in events if e.position > after]

    async def frames_of(batch: Sequence[tuple[Event, Sequence[Any]]], tenant: TenantRef) -> list[list[str]]:
        if on_render is not None:
            on_render()
        batches.append([event.id for event, _ in batch])
        return [[f"m{event.id}"] * len(viewers) for event, viewers in batch]

    @contextlib.asynccontextmanager
    async def no_db(tenant: TenantRef) -> AsyncIterator[None]:
        yield None

    monkeypatch.setattr(hub, "tenant_context", no_db)
    monkeypatch.setattr(hub.event_log, "read", read)
    monkeypatch.setattr(hub, "frames_of", frames_of)
    conn = _conn()
    feed.conns.add(conn)
    deliver = asyncio.create_task(feed._deliver())
    await feed._catch_up()
    for _ in range(1000):  # until the feed's deliverer has queued every batch
        if not feed._rendering:
            break
        await asyncio.sleep(0)
    deliver.cancel()
    return conn


async def test_a_backlog_renders_in_batches_and_every_event_is_queued_once_in_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    events = [_event(n) for n in range(1, 12)] + [_event(12, "user:99")]  # the last one: nobody here hears it
    batches: list[list[int]] = []

    feed = TenantFeed(None, TENANT)  # type: ignore[arg-type]
    conn = await _drain(feed, events, batches, monkeypatch)

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


def test_feeds_share_the_process_renders_when_many_are_busy() -> None:
    """A feed alone renders up to RENDER_AHEAD batches at once; as more feeds of the process render, each gets its
    share of RENDER_PROCESS, never less than one (`TenantFeed._render_limit`)."""
    from realtime import hub as hub_mod

    process = type("Hub", (), {"rendering": set()})()
    feeds = [TenantFeed(process, TenantRef(i, f"shop{i}", f"t_shop{i}")) for i in range(10)]  # type: ignore[arg-type]
    assert feeds[0]._render_limit() == min(RENDER_AHEAD, hub_mod.RENDER_PROCESS)
    process.rendering.add(feeds[1])
    assert feeds[0]._render_limit() == max(1, min(RENDER_AHEAD, hub_mod.RENDER_PROCESS // 2))
    process.rendering.update(feeds)
    assert all(feed._render_limit() == 1 for feed in feeds)
    process.rendering.clear()
    assert feeds[3]._render_limit() == min(RENDER_AHEAD, hub_mod.RENDER_PROCESS)


async def test_a_feed_among_many_busy_ones_renders_its_backlog_in_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the process's renders shared out (9 other feeds rendering), a backlog is one batch (its reads shared by
    all its events), and the feed counts as busy only while it renders."""
    events = [_event(n) for n in range(1, 13)]
    batches: list[list[int]] = []
    process = type("Hub", (), {"rendering": set()})()
    others = [TenantFeed(process, TenantRef(i, f"shop{i}", f"t_shop{i}")) for i in range(2, 11)]  # type: ignore[arg-type]
    process.rendering.update(others)
    feed = TenantFeed(process, TENANT)  # type: ignore[arg-type]
    seen_busy: list[bool] = []

    conn = await _drain(feed, events, batches, monkeypatch,
                        on_render=lambda: seen_busy.append(feed in process.rendering))
    assert batches == [list(range(1, 13))] and seen_busy == [True]
    assert feed not in process.rendering and process.rendering == set(others)
    assert conn.inbox.qsize() == 12
