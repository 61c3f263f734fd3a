"""Render once per audience: many console sockets of a few audiences cost one render per audience, not one per
socket, and every socket still gets exactly what its user may see (an operator never a supervisor-only fragment,
nobody another operator's own conversations), with other shops' consoles hearing nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.conversations import services as conversations
from app.lib.db import tenant_context
from realtime import render, sockets
from tests.conftest import ShopFixture
from tests.integration.test_workspace import _contact, _inbound, _socket, _user
from tests.servers import ConsoleSocket, Frame, InProcessServer
from tests.statements import statements_of

SHARED = "app.conversations.live.console_shared"
MINE = "app.conversations.live.console_mine"
LIVE_CALLS = "app.conversations.live.console_live_calls"
LEFT_QUEUE = "app.workspace.live.left_queue"
UNREAD = "app.workspace.live.left_unread"


async def _all_get(socks: list[ConsoleSocket], event: str) -> list[Frame]:
    got = await asyncio.gather(*(s.until(lambda f: f.event == event) for s in socks))
    return [frames[-1] for frames in got]


@pytest.mark.xdist_group("realtime")
async def test_one_render_per_audience_and_each_socket_sees_only_its_own(
    fx_live: InProcessServer, fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    anna = await _user(fx_shop, "operator", "Anna Operator")
    boris = await _user(fx_shop, "operator", "Boris Operator")
    sveta = await _user(fx_shop, "supervisor", "Sveta Supervisor")
    contact_id = await _contact(fx_client, fx_shop)
    # 9 sockets, 3 roles (operator, supervisor, owner), 4 users; a console of another shop listens too.
    anna_socks = [await _socket(fx_live, fx_shop, anna.user_id) for _ in range(3)]
    boris_socks = [await _socket(fx_live, fx_shop, boris.user_id) for _ in range(3)]
    sveta_socks = [await _socket(fx_live, fx_shop, sveta.user_id) for _ in range(2)]
    owner = await _socket(fx_live, fx_shop, fx_shop.user_id)
    stranger = await _socket(fx_live, fx_other_shop, fx_other_shop.user_id)
    everyone = [*anna_socks, *boris_socks, *sveta_socks, owner]
    await asyncio.sleep(0.2)

    render.RENDERS.clear()
    deflated = sockets.DEFLATE.misses
    conversation_id = await _inbound(fx_shop, contact_id, "Where is my parcel?")  # queue.item_added
    added = await _all_get(everyone, "queue.item_added")
    # one message per audience, compressed once: the three tabs of Anna get the very same frame, and the deflates
    # are at most one per distinct message (Anna, Boris, Sveta, the owner), not one per socket
    assert added[0].text == added[1].text == added[2].text
    assert added[3].text == added[4].text == added[5].text and added[6].text == added[7].text
    assert sockets.DEFLATE.misses - deflated <= 4 + 2  # (+ presence or agent-state frames that may interleave)
    assert render.RENDERS[SHARED] == 3  # operator, supervisor, owner: not 9
    assert render.RENDERS[LEFT_QUEUE] == 3
    assert render.RENDERS[UNREAD] == 1  # every user's unread counts in one call
    assert render.RENDERS[MINE] == 0  # nobody has it yet
    assert render.RENDERS[LIVE_CALLS] == 2  # per supervisor or above: Sveta and the owner
    for frame in added:
        # the one item, not the whole queue panel: inserted into the list, and the counts
        assert f'id="queue-item-{conversation_id}"' in frame.text and 'beforeend:#console-queue-items' in frame.text
        assert 'id="console-queue"' not in frame.text and 'id="console-waiting-count"' in frame.text
        assert f'id="ws-unread-{conversation_id}"' in frame.text  # each user's own count
    for frame in added[:6]:  # operators never get the supervisors' fragment
        assert 'id="console-live-calls"' not in frame.text and 'id="console-mine"' not in frame.text
    for frame in added[6:]:
        assert 'id="console-live-calls"' in frame.text

    render.RENDERS.clear()
    async with tenant_context(fx_shop.tenant):
        await conversations.take(anna, conversation_id)  # queue.item_taken, about Anna
    taken = await _all_get(everyone, "queue.item_taken")
    assert render.RENDERS[SHARED] == 3
    assert render.RENDERS[MINE] == 1  # Anna, once for her three sockets
    for frame in taken[:3]:
        assert 'id="console-mine"' in frame.text and "Where is my parcel?" in frame.text
    for frame in taken[3:]:  # Boris, Sveta and the owner never receive Anna's own list
        assert 'id="console-mine"' not in frame.text and 'id="ws-list-part-mine"' not in frame.text
    assert 'id="console-live-calls"' not in "".join(f.text for f in taken[:6])

    with pytest.raises(asyncio.TimeoutError):  # another shop's console hears none of it
        await stranger.until(lambda f: f.event in ("queue.item_added", "queue.item_taken"), wait=0.5)
    for sock in (*everyone, stranger):
        await sock.close()


@pytest.mark.xdist_group("realtime")
async def test_a_burst_of_item_events_arrives_complete_in_order_rendered_once_per_audience(
    fx_live: InProcessServer, fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    """Events of a backlog render several at once (realtime.hub RENDER_AHEAD) and a busy socket gets them joined
    into fewer frames: still every event once, in position order, each rendered once per audience."""
    from realtime import channels
    from realtime.publish import publish

    anna = await _user(fx_shop, "operator", "Anna Operator")
    contact_id = await _contact(fx_client, fx_shop)
    conversation_id = await _inbound(fx_shop, contact_id, "Burst")
    socks = [await _socket(fx_live, fx_shop, anna.user_id) for _ in range(2)]
    owner = await _socket(fx_live, fx_shop, fx_shop.user_id)
    stranger = await _socket(fx_live, fx_other_shop, fx_other_shop.user_id)
    await asyncio.sleep(0.2)
    render.RENDERS.clear()

    async def one(name: str) -> Any:
        async with tenant_context(fx_shop.tenant):
            return await publish(name, {"conversation_id": conversation_id, "queue_id": None, "contact_id": 0},
                                 channels=[channels.queue()])

    names = ["queue.item_added", "conversation.assigned", "conversation.snoozed", "conversation.reopened"] * 10
    published = await asyncio.gather(*(one(n) for n in names))
    last = max(e.position for e in published)
    for sock in (*socks, owner):
        frames = await sock.until(lambda f: f.event_id >= last, wait=20)
        got = [f for f in frames if f.event in names]
        assert [f.event_id for f in got] == sorted(e.position for e in published)  # all, once, in order
        assert all(f'id="queue-item-{conversation_id}"' in f.text for f in got)
    assert render.RENDERS[SHARED] == 2 * len(names)  # operator and owner, per event: not per socket
    with pytest.raises(asyncio.TimeoutError):
        await stranger.until(lambda f: f.event in names, wait=0.5)
    for sock in (*socks, owner, stranger):
        await sock.close()


async def test_a_batch_of_events_renders_in_one_unit_of_work_as_each_would_alone(
    fx_client: Any, fx_shop: ShopFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feed's backlog renders in batches (realtime.render.frames_of): what renderers share by key (a role's queue
    totals) is read once for the batch, and every event's message is the one it would get rendered alone, for each
    viewer its own (an operator never the supervisor's live calls)."""
    import datetime as dt

    from realtime.events import Event

    anna = await _user(fx_shop, "operator", "Anna Operator")
    sveta = await _user(fx_shop, "supervisor", "Sveta Supervisor")
    contact_id = await _contact(fx_client, fx_shop)
    ids = [await _inbound(fx_shop, contact_id, f"Parcel {n}") for n in range(3)]
    names = ["queue.item_added", "conversation.snoozed", "queue.item_added"]
    events = [Event(id=10**9 + n, tx=10**9, name=name, tenant=fx_shop.slug, at=dt.datetime.now(dt.UTC),
                    data={"conversation_id": cid, "queue_id": None, "contact_id": contact_id}, channels=("queue",))
              for n, (name, cid) in enumerate(zip(names, ids, strict=True))]
    loads: list[tuple[int, ...]] = []
    real = conversations._stats

    async def counted(queue_ids: Any) -> Any:
        loads.append(tuple(queue_ids))
        return await real(queue_ids)

    monkeypatch.setattr(conversations, "_stats", counted)
    alone = [await render.frames(event, fx_shop.tenant, [anna, sveta]) for event in events]
    one_by_one, loads[:] = len(loads), []
    together = await render.frames_of([(event, [anna, sveta]) for event in events], fx_shop.tenant)
    assert together == alone
    assert len(loads) == len(set(loads)) and one_by_one == 3 * len(loads)  # each role's totals once, not per event
    for n, (to_anna, to_sveta) in enumerate(together):
        assert f'id="queue-item-{ids[n]}"' in to_anna and f'data-event-id="{events[n].position}"' in to_anna
        assert 'id="console-live-calls"' not in to_anna
        assert ('id="console-live-calls"' in to_sveta) == events[n].name.startswith("queue.")


async def test_a_renderer_failing_in_a_batch_costs_no_other_event_its_fragments(
    fx_client: Any, fx_shop: ShopFixture
) -> None:
    """A statement that fails aborts the batch's transaction: the batch is rendered again event by event, so the
    other events keep their fragments (and the broken one keeps the rest of its own)."""
    import datetime as dt

    from app.lib.db import current_uow
    from realtime.events import Event

    anna = await _user(fx_shop, "operator", "Anna Operator")
    contact_id = await _contact(fx_client, fx_shop)
    ids = [await _inbound(fx_shop, contact_id, f"Parcel {n}") for n in range(2)]

    async def broken(event: Event, tenant: Any, viewer: Any) -> str:
        await current_uow().connection.fetchval("SELECT 1 / 0")
        return "never"

    events = [Event(id=10**9 + n, tx=10**9, name=name, tenant=fx_shop.slug, at=dt.datetime.now(dt.UTC),
                    data={"conversation_id": cid, "queue_id": None, "contact_id": contact_id}, channels=("queue",))
              for n, (name, cid) in enumerate(zip(["conversation.snoozed", "queue.item_added"], ids, strict=True))]
    render.register_renderer("conversation.snoozed", broken)
    try:
        got = await render.frames_of([(event, [anna]) for event in events], fx_shop.tenant)
    finally:
        render.unregister_renderer("conversation.snoozed", broken)
    assert f'id="queue-item-{ids[1]}"' in got[1][0] and 'id="console-waiting-count"' in got[1][0]
    assert got[1] == await render.frames(events[1], fx_shop.tenant, [anna])  # all of it, as if rendered alone
    assert 'id="console-waiting-count"' in got[0][0] and "never" not in got[0][0]


async def test_a_batch_reads_the_workspace_zone_once(fx_shop: ShopFixture) -> None:
    """Every role's totals need the workspace's day (its zone): a batch of events reads the zone once, however many
    renders ask; outside a render every call reads it."""
    import datetime as dt

    from app.accounts.services import workspace_zone
    from app.lib.db import current_uow
    from realtime.events import Event

    reads: list[list[str]] = []  # asyncpg calls query loggers soon after each query: counted once all is done

    async def zone_twice(event: Event, tenant: Any, viewer: Any) -> str:
        with statements_of(current_uow().connection) as seen:
            await workspace_zone()
            await workspace_zone()
        reads.append(seen)
        return ""

    def zone_reads(statements: list[str]) -> int:
        return sum("FROM workspace" in s for s in statements)

    events = [Event(id=10**9 + n, tx=10**9, name="deal.moved", tenant=fx_shop.slug,
                    at=dt.datetime.now(dt.UTC), data={}, channels=("queue",)) for n in range(3)]
    owner = await _user(fx_shop, "owner", "Olga Owner")
    render.register_renderer("deal.moved", zone_twice)  # an event no panel renders: this is its only renderer
    try:
        await render.frames_of([(event, [owner]) for event in events], fx_shop.tenant)
    finally:
        render.unregister_renderer("deal.moved", zone_twice)
    await asyncio.sleep(0.05)
    assert [zone_reads(seen) for seen in reads] == [1, 0, 0]
    async with tenant_context(fx_shop.tenant) as uow:
        with statements_of(uow.connection) as seen:
            await workspace_zone()
            await workspace_zone()
            await asyncio.sleep(0.05)
    assert zone_reads(seen) == 2
