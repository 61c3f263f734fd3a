"""Realtime building blocks, the same tests on the memory and the Redis backend: fan-out, publish after
commit, the event log's bounds, presence with TTL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.lib.db import tenant_context
from realtime import channels, log
from realtime.events import UnknownEvent, decode
from realtime.publish import publish
from tests.conftest import ShopFixture, until_final
from tests.servers import realtime_runtime, unique_redis_prefix

pytestmark = pytest.mark.xdist_group("realtime")


@pytest.fixture(params=["memory", "redis"])
async def fx_rt(request: pytest.FixtureRequest, fx_db: str) -> AsyncIterator[Any]:
    async with realtime_runtime(request.param) as rt:
        yield rt


async def _next(sub: Any, wait: float = 2) -> tuple[str, bytes]:
    return await asyncio.wait_for(sub.get(), wait)


async def _nothing(sub: Any, wait: float = 0.2) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(sub.get(), wait)


# -- transport ------------------------------------------------------------------------------------------------

async def test_subscribers_get_only_their_channels(fx_rt: Any) -> None:
    backend = fx_rt.backend
    a = await backend.subscribe(["tenant:acme:queue"])
    b = await backend.subscribe(["tenant:acme:queue", "tenant:acme:user:1"])
    await backend.publish("tenant:acme:user:1", b"for one")
    await backend.publish("tenant:acme:queue", b"for all")
    assert await _next(b) == ("tenant:acme:user:1", b"for one")
    assert await _next(b) == ("tenant:acme:queue", b"for all")
    assert await _next(a) == ("tenant:acme:queue", b"for all")
    await _nothing(a)
    await b.remove(["tenant:acme:queue"])
    await backend.publish("tenant:acme:queue", b"again")
    assert await _next(a) == ("tenant:acme:queue", b"again")
    await _nothing(b)
    await a.close()
    await b.close()


async def test_publish_many_delivers_each_message_to_its_channel_in_order(fx_rt: Any) -> None:
    """What a unit of work's events send after its commit (Redis: one pipeline for all of them)."""
    backend = fx_rt.backend
    a = await backend.subscribe(["tenant:acme:chat:1"])
    b = await backend.subscribe(["tenant:acme:user:1", "tenant:acme:chat:1"])
    await backend.publish_many([("tenant:acme:chat:1", b"m1"), ("tenant:acme:user:1", b"m1"),
                                ("tenant:acme:chat:1", b"m2"), ("tenant:acme:user:1", b"m2")])
    assert [await _next(a) for _ in range(2)] == [("tenant:acme:chat:1", b"m1"), ("tenant:acme:chat:1", b"m2")]
    assert [await _next(b) for _ in range(4)] == [("tenant:acme:chat:1", b"m1"), ("tenant:acme:user:1", b"m1"),
                                                  ("tenant:acme:chat:1", b"m2"), ("tenant:acme:user:1", b"m2")]
    await _nothing(a)
    await a.close()
    await b.close()


async def test_concurrent_subscriptions_on_a_fresh_backend_all_receive(fx_rt: Any) -> None:
    # STACK_NOTES: Litestar's pub/sub backend lost one of two simultaneous first subscriptions.
    subs = await asyncio.gather(*(fx_rt.backend.subscribe([f"tenant:acme:user:{i % 3 + 1}"]) for i in range(12)))
    for i in range(3):
        await fx_rt.backend.publish(f"tenant:acme:user:{i + 1}", b"x")
    for sub in subs:
        assert (await _next(sub))[1] == b"x"
        await sub.close()


async def test_redis_prefix_separates_runs(fx_db: str) -> None:
    async with realtime_runtime("redis") as rt:
        from realtime.backends.redis import RedisBackend

        other = RedisBackend(rt.backend.url, unique_redis_prefix())
        await other.start()
        try:
            mine = await rt.backend.subscribe(["tenant:acme:queue"])
            theirs = await other.subscribe(["tenant:acme:queue"])
            await other.publish("tenant:acme:queue", b"other run")
            assert await _next(theirs) == ("tenant:acme:queue", b"other run")
            await _nothing(mine)
        finally:
            await other.stop()


# -- publish after commit ------------------------------------------------------------------------------------

async def test_rolled_back_unit_of_work_publishes_nothing(fx_rt: Any, fx_shop: ShopFixture) -> None:
    sub = await fx_rt.backend.subscribe([channels.channel_name(fx_shop.tenant, "queue")])
    with pytest.raises(RuntimeError, match="boom"):
        async with tenant_context(fx_shop.tenant):
            await publish("contact.updated", {"contact_id": 1}, channels=[channels.queue()])
            raise RuntimeError("boom")
    await _nothing(sub, 0.3)
    async with tenant_context(fx_shop.tenant):
        assert await log.read(log.START, topics=["queue"]) == []
        assert (await log.bounds()).last == log.START  # no row: the log's end did not move
    await sub.close()


async def test_committed_events_arrive_after_commit_with_increasing_ids(fx_rt: Any, fx_shop: ShopFixture) -> None:
    sub = await fx_rt.backend.subscribe([channels.channel_name(fx_shop.tenant, "queue")])
    async with tenant_context(fx_shop.tenant):
        first = await publish("contact.created", {"contact_id": 7}, channels=[channels.queue()])
        second = await publish("note.added", {"contact_id": 7, "note_id": 3}, channels=[channels.queue()])
        await _nothing(sub, 0.1)  # not before the commit
    got = [decode((await _next(sub))[1]) for _ in range(2)]
    assert [e.position for e in got] == [first.position, second.position]
    assert first.tx == second.tx and first.position < second.position  # one transaction, in publishing order
    assert [e.name for e in got] == ["contact.created", "note.added"]
    assert got[1].data == {"contact_id": 7, "note_id": 3} and got[1].tenant == fx_shop.slug
    async with tenant_context(fx_shop.tenant):
        third = await publish("contact.updated", {"contact_id": 7}, channels=[channels.queue()])
    assert decode((await _next(sub))[1]).position == third.position > second.position
    await sub.close()


async def test_events_reach_only_their_channels_and_tenant(fx_rt: Any, fx_shop: ShopFixture,
                                                            fx_other_shop: ShopFixture) -> None:
    a_admin = await fx_rt.backend.subscribe([channels.channel_name(fx_shop.tenant, "role:admin")])
    b_queue = await fx_rt.backend.subscribe([channels.channel_name(fx_other_shop.tenant, "queue")])
    async with tenant_context(fx_shop.tenant):
        await publish("user.updated", {"user_id": 1}, channels=[channels.role("admin")])
        await publish("contact.updated", {"contact_id": 1}, channels=[channels.queue()])
    assert decode((await _next(a_admin))[1]).name == "user.updated"
    await _nothing(b_queue)
    await a_admin.close()
    await b_queue.close()


async def test_unknown_names_and_fat_payloads_are_refused(fx_rt: Any, fx_shop: ShopFixture) -> None:
    async with tenant_context(fx_shop.tenant):
        with pytest.raises(UnknownEvent):
            await publish("contact.exploded", {"contact_id": 1}, channels=[channels.queue()])
        with pytest.raises(ValueError, match="ids or short codes"):
            await publish("contact.updated", {"contact": {"name": "x"}}, channels=[channels.queue()])
        with pytest.raises(ValueError, match="not a channel topic"):
            await publish("contact.updated", {"contact_id": 1}, channels=["tenant:other:queue"])
    with pytest.raises(RuntimeError, match="no unit of work"):
        await publish("contact.updated", {"contact_id": 1}, channels=[channels.queue()])


async def test_log_is_bounded_and_knows_what_it_can_replay(fx_rt: Any, fx_shop: ShopFixture) -> None:
    async with tenant_context(fx_shop.tenant):
        for i in range(5):
            newest = await publish("contact.updated", {"contact_id": i + 1}, channels=[channels.contact(i + 1)])
    await until_final(fx_shop.tenant, newest.position)
    async with tenant_context(fx_shop.tenant):
        every = await log.read(log.START)
        assert [e.data["contact_id"] for e in await log.read(every[1].position, topics=["contact:4", "contact:5"])] \
            == [4, 5]
        assert await log.trim(keep=2) == 3
        bounds = await log.bounds()
    p = [e.position for e in every]
    assert (bounds.last, bounds.oldest, bounds.floor) == (p[4], p[3], p[2])
    assert bounds.can_replay_after(p[2]) and bounds.can_replay_after(p[4])
    assert not bounds.can_replay_after(p[1])  # event 3 is gone
    assert not bounds.can_replay_after(log.START)
    assert not bounds.can_replay_after(log.Position(p[4].tx, p[4].id + 1))  # from the future: another database
    assert not bounds.can_replay_after(log.Position(p[4].tx + 1, 0))


# -- presence ------------------------------------------------------------------------------------------------

async def test_presence_follows_sockets_and_expires_without_heartbeats(fx_rt: Any) -> None:
    p = fx_rt.presence
    slug = "acme_" + unique_redis_prefix()[-8:]
    assert await p.connect(slug, 1, "c1") == "online"
    assert await p.connect(slug, 1, "c2") is None  # second tab: no change
    assert await p.disconnect(slug, 1, "c1") is None  # still one socket
    assert (await p.snapshot(slug))[1].status == "online"
    assert await p.disconnect(slug, 1, "c2") == "offline"
    assert await p.connect(slug, 1, "c3", ttl=0.3) == "online"
    assert await p.sweep(slug) == []
    await asyncio.sleep(0.5)  # the process "crashed": no heartbeat, no disconnect
    assert (await p.snapshot(slug))[1].status == "offline"
    assert await p.sweep(slug) == [1]
    assert await p.sweep(slug) == []  # announced once, whichever process sweeps
    await p.connect(slug, 2, "c4", ttl=0.3)
    await p.heartbeat(slug, [(2, "c4")], ttl=5)
    await asyncio.sleep(0.5)
    assert await p.sweep(slug) == []
    assert (await p.snapshot(slug))[2].status == "online"


async def test_redis_subscriptions_survive_a_dropped_connection(fx_db: str) -> None:
    async with realtime_runtime("redis") as rt:
        sub = await rt.backend.subscribe(["tenant:acme:queue"])
        await rt.backend.publish("tenant:acme:queue", b"before")
        assert (await _next(sub))[1] == b"before"
        name = rt.backend.prefix + "realtime"
        for client in await rt.backend.client.client_list(_type="pubsub"):
            if client.get("name") == name:
                await rt.backend.client.client_kill_filter(_id=client["id"])
        delivered = False
        for _ in range(40):  # redis-py reconnects and re-subscribes on its next read
            await rt.backend.publish("tenant:acme:queue", b"after")
            try:
                delivered = (await _next(sub, 0.25))[1] == b"after"
                break
            except TimeoutError:
                continue
        assert delivered
        await sub.close()


# -- channel names and who may hear them ---------------------------------------------------------------------

def test_channel_names_are_built_from_the_tenant_only() -> None:
    from app.accounts.services import Principal
    from app.lib.db import TenantRef

    acme = TenantRef(id=1, slug="acme", schema="t_acme")
    assert channels.channel_name(acme, channels.user(7)) == "tenant:acme:user:7"
    for bad in ("tenant:other:queue", "queue:1", "user:0", "role:superuser", "contact:x"):
        with pytest.raises(ValueError):
            channels.channel_name(acme, bad)
    with pytest.raises(ValueError):
        channels.channel_name(TenantRef(id=2, slug="a:b", schema="t_ab"), "queue")
    operator = Principal(5, "op@acme.example", "Op", "operator", "session", 1)
    admin = Principal(6, "ad@acme.example", "Ad", "admin", "session", 2)
    assert channels.base_topics(operator) == {"queue", "user:5", "role:operator"}
    assert channels.base_topics(admin) == {"queue", "user:6", "role:operator", "role:supervisor", "role:admin"}
    assert channels.may_watch(operator, "contact:9") and channels.may_watch(operator, "order:3")
    assert not channels.may_watch(operator, "user:6") and not channels.may_watch(operator, "role:admin")
