"""The agents contract routing builds on: set_state keeps intervals and emits agent.state_changed; room() counts
free slots per channel from assigned open conversations, capacities and the call-blocks rule."""

from __future__ import annotations

import json

from app.accounts.services import Principal
from app.accounts.tables import User
from app.agents import load, state
from app.agents.tables import AgentCapacity, AgentStateInterval
from app.conversations import services as conversations
from app.lib.db import tenant_context
from tests.conftest import ShopFixture


async def _agent(shop: ShopFixture, name: str) -> Principal:
    email = f"{name.lower()}@{shop.slug}.example"
    async with tenant_context(shop.tenant):
        rows = await User.insert(User(email=email, name=name, role="operator")).returning(User.id)
    return Principal(user_id=rows[0]["id"], email=email, name=name, role="operator", via="session", credential_id=0)


async def _item(channel: str) -> int:
    conversation_id, _ = await conversations.receive_inbound(channel, None, summary="hi", subject="hi",
                                                             from_address="+35928880001", payload={"body": "hi"})
    return conversation_id


async def test_set_state_keeps_intervals_and_emits(fx_shop: ShopFixture) -> None:
    agent = await _agent(fx_shop, "Ana")
    async with tenant_context(fx_shop.tenant) as uow:
        first = await state.set_state(agent.user_id, "available")
        assert first["previous"] == "offline" and first["changed"]
        again = await state.set_state(agent.user_id, "available")
        assert not again["changed"]
        away = await state.set_state(agent.user_id, "away", reason="missed_offers")
        assert away["previous"] == "available" and away["state"] == "away"
        events = await uow.connection.fetch(
            "SELECT data FROM event_log WHERE name = 'agent.state_changed' ORDER BY id")
    async with tenant_context(fx_shop.tenant):
        intervals = await AgentStateInterval.select().where(AgentStateInterval.user == agent.user_id).order_by(
            AgentStateInterval.id)
    assert [(i["state"], i["reason"]) for i in intervals] == [("available", ""), ("away", "missed_offers")]
    assert intervals[0]["ended_at"] is not None and intervals[1]["ended_at"] is None
    payloads = [json.loads(e["data"]) if isinstance(e["data"], str) else e["data"] for e in events]
    assert [(p["state"], p["previous"]) for p in payloads] == [("available", "offline"), ("away", "available")]


async def test_room_counts_load_capacity_and_call_blocks(fx_shop: ShopFixture) -> None:
    agent = await _agent(fx_shop, "Boris")
    other = await _agent(fx_shop, "Vera")
    async with tenant_context(fx_shop.tenant):
        await state.set_state(agent.user_id, "available")
        assert (await load.room([agent.user_id, other.user_id])) == {
            agent.user_id: {"call": 1, "sms": 3, "email": 5, "chat": 3},
            other.user_id: {"call": 0, "sms": 0, "email": 0, "chat": 0}}
        await AgentCapacity.insert(AgentCapacity(user=agent.user_id, channel="email", slots=2))
        for _ in range(2):
            await conversations.take(agent, await _item("sms"))
        await conversations.take(agent, await _item("email"))
        room = (await load.room([agent.user_id]))[agent.user_id]
        assert room == {"call": 1, "sms": 1, "email": 1, "chat": 3}
        await conversations.take(agent, await _item("call"))
        room = (await load.room([agent.user_id]))[agent.user_id]
        assert room == {"call": 0, "sms": 0, "email": 1, "chat": 0}
        await state.set_state(agent.user_id, "away", reason="lunch")
        assert (await load.room())[agent.user_id] == {"call": 0, "sms": 0, "email": 0, "chat": 0}
