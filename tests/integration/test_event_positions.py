"""Event ids under concurrent writers of one tenant (realtime.log): writers never wait on each other for ids, a
reader never passes an event that can still appear before what it read, and replay after any delivered position
skips nothing and repeats nothing. Real transactions on real connections; timeouts only guard against deadlocks."""

from __future__ import annotations

import asyncio
import random

import pytest

from app.lib.db import tenant_context
from realtime import durable
from realtime import log as event_log
from realtime.durable import Backoff, DurableListener
from realtime.events import Event, Position
from tests.conftest import ShopFixture, until_final

DEADLOCK_GUARD = 60.0
"""Seconds after which a wait is a failure (a writer blocked, a reader that never catches up): not a speed bound."""


async def append(n: int) -> Event:
    return await event_log.append("contact.updated", {"contact_id": n}, ["queue"])


async def read_all(shop: ShopFixture, after: Position = event_log.START) -> list[Event]:
    async with tenant_context(shop.tenant):
        return await event_log.read(after)


async def settled(shop: ShopFixture) -> Position:
    """The tenant's newest position once final (signing up may have written events)."""
    async with tenant_context(shop.tenant):
        newest = await event_log.newest()
    await until_final(shop.tenant, newest)
    return newest


async def test_a_writer_holding_its_transaction_open_blocks_no_other_writer(fx_shop: ShopFixture) -> None:
    start = await settled(fx_shop)
    a_written, a_release = asyncio.Event(), asyncio.Event()

    async def writer_a() -> Event:
        async with tenant_context(fx_shop.tenant):
            event = await append(1)
            a_written.set()
            await a_release.wait()  # the transaction stays open, its event row written
        return event

    task = asyncio.create_task(writer_a())
    try:
        await asyncio.wait_for(a_written.wait(), DEADLOCK_GUARD)

        async def writer_b() -> Event:
            async with tenant_context(fx_shop.tenant):
                return await append(2)

        b = await asyncio.wait_for(writer_b(), DEADLOCK_GUARD)  # commits while A is still open
        # B is committed, but A (an older transaction) may still write before it: readers do not see B yet,
        # neither in a read nor as the page's current position nor in what a new listener would start from.
        assert [e.id for e in await read_all(fx_shop, start)] == []
        async with tenant_context(fx_shop.tenant):
            bounds = await event_log.bounds()
            assert bounds.last == start and await event_log.has_unsafe_after(bounds.last)
    finally:
        a_release.set()
        a = await asyncio.wait_for(task, DEADLOCK_GUARD)
    assert a.position < b.position and a.tx < b.tx
    await until_final(fx_shop.tenant, b.position)
    assert [e.position for e in await read_all(fx_shop, start)] == [a.position, b.position]
    assert [e.position for e in await read_all(fx_shop, a.position)] == [b.position]  # replay after A: B
    assert await read_all(fx_shop, b.position) == []
    async with tenant_context(fx_shop.tenant):
        bounds = await event_log.bounds()
        assert bounds.last == b.position and await event_log.replayable(a.position, bounds)


async def test_a_durable_listener_waits_for_the_older_open_transaction_and_skips_nothing(fx_shop: ShopFixture) -> None:
    handled: list[Position] = []

    async def handle(event: Event) -> None:
        handled.append(event.position)

    listener = DurableListener("test.positions", handle, frozenset({"contact.updated"}))
    await settled(fx_shop)
    async with tenant_context(fx_shop.tenant):
        await durable.ensure_cursors([listener])
    a_written, a_release = asyncio.Event(), asyncio.Event()

    async def writer_a() -> Event:
        async with tenant_context(fx_shop.tenant):
            event = await append(1)
            a_written.set()
            await a_release.wait()
        return event

    task = asyncio.create_task(writer_a())
    try:
        await asyncio.wait_for(a_written.wait(), DEADLOCK_GUARD)
        async with tenant_context(fx_shop.tenant):
            b = await append(2)
        async with tenant_context(fx_shop.tenant):
            result = await durable.run_batch(listener, Backoff())
        # B is committed but not final: nothing handled, the cursor stays, and the runner is told to look again.
        assert handled == [] and result.retry_in is not None and not result.more
        async with tenant_context(fx_shop.tenant):
            assert "test.positions" in await durable.pending()
    finally:
        a_release.set()
        a = await asyncio.wait_for(task, DEADLOCK_GUARD)
    await until_final(fx_shop.tenant, b.position)
    async with tenant_context(fx_shop.tenant):
        result = await durable.run_batch(listener, Backoff())
    assert handled == [a.position, b.position] and result.retry_in is None
    async with tenant_context(fx_shop.tenant):
        assert "test.positions" not in await durable.pending()
        await durable.run_batch(listener, Backoff())
    assert handled == [a.position, b.position]  # each once


async def test_concurrent_writers_with_rollbacks_are_read_exactly_once_in_order(fx_shop: ShopFixture) -> None:
    writers, per_writer = 8, 30
    committed: list[int] = []
    done = asyncio.Event()
    rng = random.Random(15)

    async def writer(w: int) -> None:
        written = 0
        while written < per_writer:
            size = rng.randint(1, 3)
            rollback = rng.random() < 0.25
            try:
                async with tenant_context(fx_shop.tenant):
                    ids = [(await append(w * 1000 + written + i)).id for i in range(size)]
                    await asyncio.sleep(rng.random() * 0.01)  # interleave the transactions
                    if rollback:
                        raise _Rollback
            except _Rollback:
                continue
            committed.extend(ids)
            written += size

    async def reader() -> list[Event]:
        seen: list[Event] = []
        cursor = start
        while True:
            finished = done.is_set()
            async with tenant_context(fx_shop.tenant):
                batch = await event_log.read(cursor, limit=7)
            seen += batch
            if batch:
                cursor = batch[-1].position
            elif finished and {e.id for e in seen} >= set(committed):
                return seen
            else:
                await asyncio.sleep(0.005)

    start = await settled(fx_shop)
    reading = asyncio.create_task(reader())
    await asyncio.wait_for(asyncio.gather(*(writer(w) for w in range(writers))), DEADLOCK_GUARD)
    done.set()
    seen = await asyncio.wait_for(reading, DEADLOCK_GUARD)
    positions = [e.position for e in seen]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)  # in order, each once
    assert sorted(e.id for e in seen) == sorted(committed)  # exactly the committed set: nothing rolled back
    # Replay from any position the reader passed gives exactly the rest.
    for k in (0, len(seen) // 3, len(seen) - 1):
        assert [e.position for e in await read_all(fx_shop, positions[k])] == positions[k + 1:]


class _Rollback(Exception):
    pass


@pytest.mark.parametrize("raw", ["", "0", "12", "1.", ".1", "1.2.3", "-1.2", "1.-2", "a.b", "1 .2", "\u0661.\u0662",
                                 f"{2**63}.1", f"1.{2**64}", "1.2 "])
def test_a_cursor_that_is_not_a_position_is_refused(raw: str) -> None:
    assert event_log.position_of(raw) is None


def test_positions_order_as_pairs_and_round_trip() -> None:
    a, b, c = Position(5, 900), Position(7, 3), Position(7, 10)
    assert event_log.START < a < b < c and sorted([c, a, b]) == [a, b, c]
    for p in (event_log.START, a, c, Position(2**63 - 1, 2**63 - 1)):
        assert Position.parse(str(p)) == p
    assert str(event_log.START) == "0.0" and str(c) == "7.10"
