"""A feed's backlog renders in chunks (realtime.hub `TenantFeed._catch_up`): consecutive events share ONE unit of work
instead of one each, every event is still queued once and in position order, and from an event whose render failed
on (its statement may have aborted the shared transaction) each event renders alone, so no other event loses its
fragments."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from app.lib.db import TenantRef
from realtime import hub
from realtime.events import Event, Position
from realtime.hub import RENDER_AHEAD, Connection, TenantFeed

TENANT = TenantRef(1, "shop", "t_shop")


def _event(n: int, topic: str = "queue") -> Event:
    return Event(id=n, tx=1, name="queue.item_added", tenant="shop", at=dt.datetime.now(dt.UTC), channels=(topic,))


def _conn() -> Connection:
    viewer = type("V", (), {"user_id": 1, "role": "operator", "language": "", "timezone": ""})()

    async def send(text: str) -> None:
        return None

    return Connection(TENANT, viewer, send, counts_presence=False, topics=["queue"])  # type: ignore[arg-type]


async def test_a_backlog_renders_in_shared_units_of_work_and_a_failure_renders_the_rest_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    events = [_event(n) for n in range(1, 12)] + [_event(12, "user:99")]  # the last one: nobody here hears it
    units: list[int] = []
    current: list[int] = []
    in_unit: dict[int, int] = {}
    alone: list[int] = []

    @contextlib.asynccontextmanager
    async def fake_context(tenant: TenantRef) -> AsyncIterator[None]:
        units.append(len(units))
        current.append(units[-1])
        try:
            yield None
        finally:
            current.pop()

    async def read(after: Position, **_: Any) -> list[Event]:
        return events

    async def checked(event: Event, tenant: TenantRef, viewers: Sequence[Any]) -> tuple[list[str], bool]:
        in_unit[event.id] = current[-1]
        return [f"m{event.id}"] * len(viewers), event.id != 5  # event 5's renderer raised

    async def by_itself(event: Event, tenant: TenantRef, viewers: Sequence[Any]) -> list[str]:
        alone.append(event.id)
        return [f"m{event.id}"] * len(viewers)

    monkeypatch.setattr(hub, "tenant_context", fake_context)
    monkeypatch.setattr(hub.event_log, "read", read)
    monkeypatch.setattr(hub, "frames_checked", checked)
    monkeypatch.setattr(hub, "frames", by_itself)
    feed = TenantFeed(None, TENANT)  # type: ignore[arg-type]
    conn = _conn()
    feed.conns.add(conn)
    await feed._catch_up()

    queued = []
    while not conn.inbox.empty():
        item = conn.inbox.get_nowait()
        assert item is not None
        queued.append(item)
    assert queued == [(e.position, f"m{e.id}") for e in events[:11]]  # each once, in order; 12 heard by nobody
    assert feed.wm == events[-1].position
    # 1 read + RENDER_AHEAD chunks of 3 consecutive events, each chunk in one unit of work (not one per event).
    assert len(units) == 1 + RENDER_AHEAD
    assert [in_unit[n] for n in (1, 2, 3)] == [1, 1, 1] and in_unit[4] == in_unit[5] != in_unit[3]
    assert alone == [5, 6]  # the failed event and the one after it in its chunk, each in a unit of work of its own
    assert 6 not in in_unit and in_unit[7] == in_unit[9] != in_unit[5] and 12 not in in_unit
