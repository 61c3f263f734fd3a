"""A feed reads the next events while the previous ones render (realtime.hub `TenantFeed._catch_up` schedules,
`_deliver` queues in position order): an event that arrives mid-render is read and rendered without waiting for the
earlier batch to be delivered, and every socket still gets every event once, in position order; a batch that fails
outside the render's own fallback makes the feed read again from what it delivered, losing and repeating nothing."""

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
from realtime.hub import CLOSE_TOO_SLOW, Connection, TenantFeed

TENANT = TenantRef(1, "shop", "t_shop")


def _event(n: int) -> Event:
    return Event(id=n, tx=1, name="queue.item_added", tenant="shop", at=dt.datetime.now(dt.UTC), channels=("queue",))


def _conn() -> Connection:
    viewer = type("V", (), {"user_id": 1, "role": "operator", "language": "", "timezone": ""})()

    async def send(text: str) -> None:
        return None

    return Connection(TENANT, viewer, send, counts_presence=False, topics=["queue"])  # type: ignore[arg-type]


def _queued(conn: Connection) -> list[tuple[Position, str]]:
    out = []
    while not conn.inbox.empty():
        item = conn.inbox.get_nowait()
        assert item is not None
        out.append(item)
    return out


async def _until(check: Any) -> None:
    for _ in range(10_000):
        if check():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    events: list[Event] = []

    async def read(after: Position, **_: Any) -> list[Event]:
        return [e for e in events if e.position > after]

    @contextlib.asynccontextmanager
    async def no_db(tenant: TenantRef) -> AsyncIterator[None]:
        yield None

    monkeypatch.setattr(hub, "tenant_context", no_db)
    monkeypatch.setattr(hub.event_log, "read", read)
    return events


async def test_events_arriving_while_a_batch_renders_render_meanwhile_and_arrive_once_in_order(
        log: list[Event], monkeypatch: pytest.MonkeyPatch) -> None:
    release = asyncio.Event()
    rendered: list[list[int]] = []

    async def frames_of(batch: Sequence[tuple[Event, Sequence[Any]]], tenant: TenantRef) -> list[list[str]]:
        ids = [event.id for event, _ in batch]
        if 1 in ids:
            await release.wait()  # the first event's render is slow
        rendered.append(ids)
        return [[f"m{event.id}"] * len(viewers) for event, viewers in batch]

    monkeypatch.setattr(hub, "frames_of", frames_of)
    feed = TenantFeed(None, TENANT)  # type: ignore[arg-type]
    conn = _conn()
    feed.conns.add(conn)
    deliver = asyncio.create_task(feed._deliver())
    try:
        log.append(_event(1))
        await feed._catch_up()
        log.extend([_event(2), _event(3)])
        await feed._catch_up()  # returns with 1 still rendering: the feed read 2 and 3 meanwhile
        assert feed.read_to == log[-1].position
        await _until(lambda: [2] in rendered and [3] in rendered)
        assert _queued(conn) == [] and feed.wm < log[0].position  # nothing overtakes event 1
        log.append(_event(4))
        await feed._catch_up()
        await _until(lambda: [4] in rendered)
        release.set()
        await _until(lambda: not feed._rendering)
        assert _queued(conn) == [(e.position, f"m{e.id}") for e in log]
        assert feed.wm == log[-1].position
        await feed._catch_up()  # nothing new: nothing read twice
        await _until(lambda: not feed._rendering)
        assert _queued(conn) == []
    finally:
        deliver.cancel()


async def test_a_batch_that_fails_is_read_again_from_what_was_delivered(
        log: list[Event], monkeypatch: pytest.MonkeyPatch) -> None:
    failed: list[int] = []

    async def frames_of(batch: Sequence[tuple[Event, Sequence[Any]]], tenant: TenantRef) -> list[list[str]]:
        return [[f"m{event.id}"] * len(viewers) for event, viewers in batch]

    feed = TenantFeed(None, TENANT)  # type: ignore[arg-type]
    render = feed._render

    async def flaky(batch: list[Event], gate: Any = None) -> Any:
        if batch[0].id == 3 and not failed:
            failed.append(3)
            raise RuntimeError("a bug outside the render's fallback")
        return await render(batch, gate)

    monkeypatch.setattr(hub, "frames_of", frames_of)
    monkeypatch.setattr(feed, "_render", flaky)
    conn = _conn()
    feed.conns.add(conn)
    deliver = asyncio.create_task(feed._deliver())
    try:
        log.extend(_event(n) for n in range(1, 9))  # 4 batches of 2: the second one fails once
        await feed._catch_up()
        await _until(lambda: failed and not feed._rendering)
        assert feed.read_to == feed.wm == log[1].position  # back to what was delivered
        await feed._catch_up()  # the next notification or the periodic catch-up
        await _until(lambda: not feed._rendering)
        assert _queued(conn) == [(e.position, f"m{e.id}") for e in log]
        assert feed.restarts == 1
    finally:
        deliver.cancel()


async def test_audiences_are_worked_out_once_per_channels_and_follow_joins_leaves_and_topics() -> None:
    """`TenantFeed._audiences_of`: the sockets that hear an event on some channels, grouped by view, kept until a
    socket joins, leaves or changes its topics; a kicked socket may stay in a group but is sent nothing."""

    class Sub:
        async def add(self, names: Any) -> None:
            list(names)

        async def remove(self, names: Any) -> None:
            list(names)

    class Presence:
        async def connect(self, *args: Any) -> None:
            return None

        async def disconnect(self, *args: Any) -> None:
            return None

    feed = TenantFeed(type("Hub", (), {"presence": Presence()})(), TENANT)  # type: ignore[arg-type]
    feed._sub = Sub()  # type: ignore[assignment]

    def viewer(user_id: int, role: str) -> Any:
        return type("V", (), {"user_id": user_id, "role": role, "language": "", "timezone": ""})()

    async def send(text: str) -> None:
        return None

    anna1, anna2 = (Connection(TENANT, viewer(1, "operator"), send, counts_presence=False, topics=["queue"])
                    for _ in range(2))
    boss = Connection(TENANT, viewer(2, "owner"), send, counts_presence=False, topics=["queue", "user:2"])
    for conn in (anna1, anna2, boss):
        await feed.join(conn)
    queue = feed._audiences_of(("queue",))
    assert sorted(len(g) for g in queue) == [1, 2] and feed._audiences_of(("queue",)) is queue  # once
    assert feed._audiences_of(("user:2",)) == [[boss]]
    assert feed._audiences_of(("contact:7",)) == []

    await feed.add_topics(anna1, {"contact:7"})  # a card opened
    assert feed._audiences_of(("contact:7",)) == [[anna1]]
    await feed.remove_topics(anna1, {"contact:7"})
    assert feed._audiences_of(("contact:7",)) == []
    await feed.leave(anna2)
    assert sorted(len(g) for g in feed._audiences_of(("queue",))) == [1, 1]

    anna1.kick(CLOSE_TOO_SLOW)  # still in its group until it leaves, but offered nothing
    anna1.offer(Position(1, 1), "m1")
    assert anna1.inbox.qsize() == 1 and anna1.inbox.get_nowait() is None  # only the kick's end marker
    await feed.leave(anna1)
    assert feed._audiences_of(("queue",)) == [[boss]]
