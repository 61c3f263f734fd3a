"""A call offered by the router rings the agent's phone through the simulator (issue 16, "Offers"): answering it
accepts the offer and bridges the caller with that same leg; a timeout cancels the ringing leg; an accept on the
console while the phone rings leaves one leg; another tenant cannot answer for our offer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.agents import state
from app.lib.clock import now
from app.lib.db import current_uow, tenant_context
from app.routing import services
from telephony import ringing
from telephony.simulator import Simulator
from telephony.tables import Call, CallParticipant
from tests.conftest import ShopFixture, browser_login, run_jobs_until
from tests.integration.telephony_kit import (  # noqa: F401
    CUSTOMER,
    OPERATOR_PHONE,
    Line,
    connect,
    sim_fixture,
)


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _routed_line(client: Any, shop: ShopFixture, sim: Simulator, **routing: Any) -> Line:
    line = await connect(client, shop, sim)
    resp = await client.put(api(shop, "/routing/queues/general"),
                            json={"strategy": "round_robin", "offer_timeout": 20, **routing}, headers=shop.auth)
    assert resp.status_code == 200, resp.text
    async with tenant_context(shop.tenant):
        await state.set_state(shop.user_id, "available")
    return line


def _device_legs(sim: Simulator) -> list[Any]:
    return [c for c in sim.calls.values() if c.to == OPERATOR_PHONE]


async def _offered_and_ringing(shop: ShopFixture, sim: Simulator, line: Line) -> tuple[Any, Any, dict[str, Any]]:
    """A caller queued; the worker offers the call to the shop's agent and their phone rings."""
    caller = sim.place_call(CUSTOMER, line.number)
    await sim.until(lambda: caller.queue == "general", what="the caller in the queue")
    await run_jobs_until(lambda: bool(sim.ringing(OPERATOR_PHONE)))
    offer = await _offer_of(shop, caller.sid)
    assert offer is not None and offer["status"] == "pending" and offer["user"] == shop.user_id
    legs = _device_legs(sim)
    assert len(legs) == 1 and legs[0].direction == "outbound-api" and legs[0].status == "ringing"
    return caller, legs[0], offer


async def _offer_of(shop: ShopFixture, caller_sid: str) -> dict[str, Any] | None:
    async with tenant_context(shop.tenant):
        row = await current_uow().connection.fetchrow(
            'SELECT o.id, o.status, o."user", o.conversation FROM routing_offer o JOIN twilio_call c '
            "ON c.conversation = o.conversation WHERE c.sid = $1 ORDER BY o.id DESC LIMIT 1", caller_sid)
    return dict(row) if row is not None else None


async def _conversation(shop: ShopFixture, conversation_id: int) -> dict[str, Any]:
    async with tenant_context(shop.tenant):
        row = await current_uow().connection.fetchrow(
            "SELECT status, assigned_to FROM conversation WHERE id = $1", conversation_id)
    return dict(row)


async def test_answering_the_offered_call_accepts_it_and_bridges_that_leg(fx_client: Any, fx_shop: ShopFixture,
                                                                          fx_sim: Simulator) -> None:
    line = await _routed_line(fx_client, fx_shop, fx_sim)
    caller, leg, offer = await _offered_and_ringing(fx_shop, fx_sim, line)
    assert caller.status == "in-progress" and caller.queue == "general", "the caller still waits with music"
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    panel = (await fx_client.get(f"/t/{fx_shop.slug}/console/offers/")).text
    assert f'data-offer-id="{offer["id"]}"' in panel and 'data-testid="offer-phone-rings"' in panel

    await fx_sim.answer(OPERATOR_PHONE)
    await fx_sim.until(lambda: any("Connecting you to the caller." in h for h in leg.heard), what="the answer")
    again = await fx_sim.post(line.account_sid, line.url("offer-answer"),
                              {"CallSid": leg.sid, "AccountSid": line.account_sid, "From": line.number,
                               "To": OPERATOR_PHONE, "CallStatus": "in-progress", "Direction": "outbound-api"})
    assert again.status_code == 200 and "<Hangup" not in again.text, "a redelivered answer does not hang up"

    async def bridged() -> bool:
        return fx_sim.conferences.together(caller.sid, leg.sid) is not None and \
            (await _conversation(fx_shop, offer["conversation"]))["status"] == "active"

    await run_jobs_until(bridged)
    assert (await _offer_of(fx_shop, caller.sid))["status"] == "accepted"  # type: ignore[index]
    assert await _conversation(fx_shop, offer["conversation"]) == {"status": "active", "assigned_to": fx_shop.user_id}
    assert [c.sid for c in _device_legs(fx_sim)] == [leg.sid], "the device was not rung a second time"
    events = (await fx_client.get(api(fx_shop, "/events?limit=500"), headers=fx_shop.auth)).json()["items"]
    assert [e["data"]["user_id"] for e in events if e["name"] == "call.offer_answered"] == [fx_shop.user_id]
    assert any("Connecting you to the caller." in h for h in leg.heard)

    async def in_progress() -> bool:
        async with tenant_context(fx_shop.tenant):
            row = await Call.select(Call.status).where(Call.sid == caller.sid).first()
            ops = await CallParticipant.select().where(CallParticipant.call_sid == leg.sid)
        return row["status"] == "in-progress" and [(p["role"], p["status"], p["user"]) for p in ops] == [
            ("operator", "joined", fx_shop.user_id)]

    await run_jobs_until(in_progress)
    await fx_sim.hangup(caller.sid)
    await fx_sim.settle()


async def test_an_offer_timing_out_cancels_the_ringing_leg(fx_client: Any, fx_shop: ShopFixture,
                                                           fx_sim: Simulator) -> None:
    line = await _routed_line(fx_client, fx_shop, fx_sim, offer_timeout=5)
    caller, leg, offer = await _offered_and_ringing(fx_shop, fx_sim, line)
    async with tenant_context(fx_shop.tenant):
        assert await services.expire(offer["id"], due=now() + dt.timedelta(seconds=6)) is not None
    await run_jobs_until(lambda: leg.status == "canceled")
    async with tenant_context(fx_shop.tenant):
        closed = await current_uow().connection.fetchval("SELECT status FROM routing_offer WHERE id = $1",
                                                         offer["id"])
    assert closed == "timeout"
    assert caller.status == "in-progress" and caller.queue == "general", "the caller keeps waiting"
    assert (await _conversation(fx_shop, offer["conversation"]))["status"] == "waiting"
    # An answer that comes after the offer closed (Twilio already placed the request) is told so and hangs up.
    late = await fx_sim.post(line.account_sid, line.url("offer-answer"),
                             {"CallSid": leg.sid, "AccountSid": line.account_sid, "From": line.number,
                              "To": OPERATOR_PHONE, "CallStatus": "in-progress", "Direction": "outbound-api"})
    assert late.status_code == 200 and "no longer offered" in late.text and "<Hangup" in late.text
    await fx_sim.hangup(caller.sid)
    await fx_sim.settle()


async def test_a_console_accept_while_the_phone_rings_leaves_one_leg(fx_client: Any, fx_shop: ShopFixture,
                                                                     fx_sim: Simulator) -> None:
    line = await _routed_line(fx_client, fx_shop, fx_sim)
    caller, first, offer = await _offered_and_ringing(fx_shop, fx_sim, line)
    accepted = await fx_client.post(api(fx_shop, f"/offers/{offer['id']}/accept"), headers=fx_shop.auth)
    assert accepted.status_code == 200, accepted.text
    # The offer's ring ends; the accept rings the device into the caller's conference (one leg rings).
    await run_jobs_until(lambda: first.status == "canceled" and len(fx_sim.ringing(OPERATOR_PHONE)) == 1)
    second = await fx_sim.answer(OPERATOR_PHONE)
    assert second.sid != first.sid
    await fx_sim.until(lambda: fx_sim.conferences.together(caller.sid, second.sid) is not None, what="the bridge")
    live = [c for c in _device_legs(fx_sim) if c.status not in ("completed", "canceled", "no-answer", "busy", "failed")]
    assert [c.sid for c in live] == [second.sid]
    assert await _conversation(fx_shop, offer["conversation"]) == {"status": "active", "assigned_to": fx_shop.user_id}
    await fx_sim.hangup(caller.sid)
    await fx_sim.settle()


async def test_another_tenant_cannot_answer_for_our_offer(fx_client: Any, fx_shop: ShopFixture,
                                                          fx_other_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await _routed_line(fx_client, fx_shop, fx_sim)
    other = await connect(fx_client, fx_other_shop, fx_sim)
    caller, leg, offer = await _offered_and_ringing(fx_shop, fx_sim, line)
    # B's own answer URL, signed by B, naming A's ringing leg: B's schema has no such leg, nothing is accepted.
    forged = await fx_sim.post(other.account_sid, other.url("offer-answer"),
                               {"CallSid": leg.sid, "AccountSid": other.account_sid, "From": other.number,
                                "To": OPERATOR_PHONE, "CallStatus": "in-progress", "Direction": "outbound-api"})
    assert forged.status_code == 200 and "no longer offered" in forged.text
    async with tenant_context(fx_shop.tenant):
        row = await CallParticipant.select().where(CallParticipant.call_sid == leg.sid).first()
    assert row["status"] == "ringing" and row["role"] == "offer"
    assert (await _offer_of(fx_shop, caller.sid))["status"] == "pending"  # type: ignore[index]
    # B's agents cannot accept A's offer through the API either.
    refused = await fx_client.post(api(fx_other_shop, f"/offers/{offer['id']}/accept"), headers=fx_other_shop.auth)
    assert refused.status_code == 404
    await fx_sim.hangup(caller.sid)
    await fx_sim.settle()


async def test_rejecting_ends_the_ringing_leg_and_a_closed_offer_never_rings(fx_client: Any, fx_shop: ShopFixture,
                                                                               fx_sim: Simulator) -> None:
    line = await _routed_line(fx_client, fx_shop, fx_sim)
    caller, leg, offer = await _offered_and_ringing(fx_shop, fx_sim, line)
    rejected = await fx_client.post(api(fx_shop, f"/offers/{offer['id']}/reject"), headers=fx_shop.auth)
    assert rejected.status_code == 200, rejected.text
    await run_jobs_until(lambda: leg.status == "canceled")
    assert caller.status == "in-progress" and caller.queue == "general"
    # An offer that closes before its ring job runs leaves a marker: the job then rings nothing.
    async with tenant_context(fx_shop.tenant):
        await ringing.end(10**6, offer["conversation"])
        marker = await CallParticipant.select().where(CallParticipant.offer_id == 10**6).first()
        assert marker is not None and marker["status"] == "left" and marker["call_sid"] == f"offer:{10**6}"
        assert await ringing.dial(10**6, offer["conversation"], fx_shop.user_id, 20) is None
    await fx_sim.hangup(caller.sid)
    await fx_sim.settle()


async def test_an_answer_after_the_offer_expired_is_told_and_hung_up(fx_client: Any, fx_shop: ShopFixture,
                                                                     fx_sim: Simulator) -> None:
    line = await _routed_line(fx_client, fx_shop, fx_sim, offer_timeout=5)
    caller, leg, offer = await _offered_and_ringing(fx_shop, fx_sim, line)
    await fx_sim.answer(OPERATOR_PHONE)
    await fx_sim.until(lambda: any("Connecting you to the caller." in h for h in leg.heard), what="the answer")
    async with tenant_context(fx_shop.tenant):  # the offer times out before routing hears of the answer
        assert await services.expire(offer["id"], due=now() + dt.timedelta(seconds=6)) is not None
    await run_jobs_until(lambda: leg.status == "completed")
    assert any("no longer offered" in h for h in leg.heard)
    assert fx_sim.conferences.together(caller.sid, leg.sid) is None and caller.queue == "general"
    async with tenant_context(fx_shop.tenant):
        closed = await current_uow().connection.fetchval("SELECT status FROM routing_offer WHERE id = $1",
                                                         offer["id"])
    assert closed == "timeout"
    await fx_sim.hangup(caller.sid)
    await fx_sim.settle()
