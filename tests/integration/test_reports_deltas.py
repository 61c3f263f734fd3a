"""Incremental rollups (app.reports.deltas): whatever the listener is told, in whatever order, over many
conversations and from two tasks at once, the live rollups equal the ones `rollups.rebuild_all()` recomputes from
the facts, row for row, in both levels (15-minute and day)."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import random
from typing import Any

from app.lib.db import current_uow, tenant_context
from app.reports import facts, listener, rollups, services
from realtime.events import Event
from tests.conftest import ShopFixture
from tests.integration.test_reports_agents import _user

_ids = itertools.count(5_000_000)
START = dt.datetime(2026, 10, 24, 21, 0, tzinfo=dt.UTC)
"""Three hours before midnight UTC: the conversations cross into the next day (two day rows per key)."""

Action = tuple[dt.datetime, str, dict[str, Any], dict[str, Any]]
"""When, the event's name, its data (besides conversation_id), the conversation row's columns changed first."""


def script(rng: random.Random, agents: list[int], queues: list[int], channel: str) -> list[Action]:
    """A plausible history of one conversation: waits (overflows, offers), is abandoned or taken, held, transferred
    or moved to another queue, the call ends, closed; sometimes snoozed, reopened, taken again and closed again."""
    at = START + dt.timedelta(seconds=rng.randrange(0, 6 * 3600))
    out: list[Action] = []

    def step(name: str, data: dict[str, Any] | None = None, row: dict[str, Any] | None = None) -> None:
        nonlocal at
        at += dt.timedelta(seconds=rng.choice((3, 14, 40, 250, 400, 1300, 2000)))
        out.append((at, name, data or {}, row or {}))

    q = queues[0]
    step("queue.item_added", {"queue_id": q})
    if rng.random() < 0.4:
        step("routing.offered", {"queue_id": q, "offer": rng.choice(("accepted", "rejected", "timeout", "pending"))})
    if rng.random() < 0.3:
        q = queues[1]
        step("routing.overflowed", {"to_queue_id": q})
    if rng.random() < 0.25:
        if rng.random() < 0.5:
            step("call.callback_requested", {"queue_id": q})
        step("queue.item_removed", {"queue_id": q}, {"status": "closed", "closed_at": "at", "wrapup_code": "abandoned"})
        return out
    agent = rng.choice(agents)
    step("queue.item_taken", {"queue_id": q, "user_id": agent},
         {"status": "active", "taken_at": "at", "assigned_to": agent})
    if rng.random() < 0.4:
        step("call.updated", {"on_hold": True})
        step("call.updated", {"on_hold": False})
    if rng.random() < 0.3:
        agent = rng.choice([a for a in agents if a != agent])
        step("conversation.assigned", {"queue_id": q, "user_id": agent}, {"assigned_to": agent})
    elif rng.random() < 0.2:
        q = queues[0] if q != queues[0] else queues[1]
        step("conversation.assigned", {"queue_id": q})
        agent = rng.choice(agents)
        step("queue.item_taken", {"queue_id": q, "user_id": agent}, {"assigned_to": agent})
    if channel == "call":
        step("call.updated", {"on_hold": False}, {"ended_at": "at"})
    if rng.random() < 0.15:
        step("conversation.snoozed")
        step("conversation.reopened", {"reason": "customer"})
    step("queue.item_removed", {"queue_id": q}, {"status": "closed", "closed_at": "at", "wrapup_code": "sale"})
    if rng.random() < 0.35:  # reopened after close: projected again, its resolution moves
        step("conversation.reopened", {"reason": "customer"}, {"status": "active", "closed_at": None})
        agent = rng.choice(agents)
        step("queue.item_taken", {"queue_id": q, "user_id": agent}, {"assigned_to": agent})
        step("conversation.closed", {"queue_id": q, "reason": "done"}, {"status": "closed", "closed_at": "at"})
    return out


class Shop:
    def __init__(self, shop: ShopFixture) -> None:
        self.shop = shop
        self.agents: list[int] = []
        self.queues: list[int] = []

    async def setup(self) -> None:
        self.agents = [await _user(self.shop, name) for name in ("Ann", "Bob", "Cid", "Dee")]
        async with tenant_context(self.shop.tenant):
            conn = current_uow().connection
            general = await conn.fetchval("SELECT id FROM queue WHERE key = 'general'")
            other = await conn.fetchval("SELECT id FROM queue WHERE id <> $1 ORDER BY id LIMIT 1", general)
        self.queues = [general, other or general + 1000]

    async def conversations(self, rng: random.Random, n: int) -> dict[int, list[Action]]:
        out: dict[int, list[Action]] = {}
        for _ in range(n):
            channel = rng.choice(("call", "call", "sms"))
            actions = script(rng, self.agents, self.queues, channel)
            async with tenant_context(self.shop.tenant):
                cid = int(await current_uow().connection.fetchval(
                    "INSERT INTO conversation (channel, queue, status, created_at) VALUES ($1, $2, 'waiting', $3) "
                    "RETURNING id", channel, self.queues[0], actions[0][0]))
            out[cid] = actions
        return out

    async def play(self, cid: int, action: Action) -> None:
        at, name, data, row = action
        async with tenant_context(self.shop.tenant):
            conn = current_uow().connection
            for column, value in row.items():
                await conn.execute(f"UPDATE conversation SET {column} = $2 WHERE id = $1",
                                   cid, at if value == "at" else value)
            offer = data.pop("offer", None)
            if offer is not None:
                await conn.execute(
                    "INSERT INTO routing_offer (conversation, queue, \"user\", channel, status, created_at, expires_at,"
                    " closed_at) VALUES ($1, $2, $3, 'call', $4::varchar, $5::timestamptz, $5::timestamptz + interval '20 s', "
                    "CASE WHEN $4::varchar = 'pending' THEN NULL ELSE $5::timestamptz + interval '20 s' END)",
                    cid, data["queue_id"], self.agents[0], offer, at)
            await listener.on_event(Event(id=next(_ids), tx=0, name=name, tenant=self.shop.slug, at=at,
                                          data={"conversation_id": cid, "contact_id": 0, **data}))


def interleave(rng: random.Random, scripts: dict[int, list[Action]]) -> list[tuple[int, Action]]:
    """The conversations' actions shuffled together, each conversation's in its own order."""
    queues = {cid: list(actions) for cid, actions in scripts.items()}
    out: list[tuple[int, Action]] = []
    while queues:
        cid = rng.choice(sorted(queues))
        out.append((cid, queues[cid].pop(0)))
        if not queues[cid]:
            del queues[cid]
    return out


async def rollup_rows(shop: ShopFixture) -> dict[str, list[tuple[Any, ...]]]:
    async with tenant_context(shop.tenant):
        snap = await services.snapshot()
    return {"rollups": snap["rollups"], "days": snap["days"]}


async def rebuilt_rows(shop: ShopFixture) -> dict[str, list[tuple[Any, ...]]]:
    async with tenant_context(shop.tenant):
        await current_uow().connection.execute(facts.LOCK)
        await rollups.rebuild_all()
    return await rollup_rows(shop)


async def test_random_events_over_many_conversations_leave_the_rollups_a_rebuild_makes(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    rng = random.Random(1818)
    shop = Shop(fx_shop)
    await shop.setup()
    scripts = await shop.conversations(rng, 24)
    for cid, action in interleave(rng, scripts):
        await shop.play(cid, action)
    live = await rollup_rows(fx_shop)
    metrics = {row[4] for row in live["rollups"]}
    assert {"handle", "transfer", "queue_offered", "queue_answered", "queue_abandoned", "resolution"} <= metrics
    assert len({row[0] for row in live["days"]}) == 2, "the conversations cross midnight UTC"
    assert await rebuilt_rows(fx_shop) == live

    # A conversation that disappears takes its contributions with it; one re-projected with no change adds nothing.
    gone, same = sorted(scripts)[:2]
    async with tenant_context(fx_shop.tenant):
        await current_uow().connection.execute("DELETE FROM conversation WHERE id = $1", gone)
        assert await facts.project(gone)
        assert await facts.project(same) == {}
    after = await rollup_rows(fx_shop)
    assert after != live
    assert await rebuilt_rows(fx_shop) == after


async def test_two_sequences_applied_concurrently_lose_no_update(fx_client: Any, fx_shop: ShopFixture) -> None:
    rng = random.Random(4242)
    shop = Shop(fx_shop)
    await shop.setup()
    first = interleave(rng, await shop.conversations(rng, 14))
    second = interleave(rng, await shop.conversations(rng, 14))

    async def run(sequence: list[tuple[int, Action]]) -> None:
        for cid, action in sequence:
            await shop.play(cid, action)

    await asyncio.gather(run(first), run(second))
    live = await rollup_rows(fx_shop)
    assert len(live["rollups"]) > 50
    assert await rebuilt_rows(fx_shop) == live
