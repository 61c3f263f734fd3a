"""A call offered to an agent (app.routing) rings their device while the offer is open.

The router only queues `RING_JOB` (through the `call` Channel's `ring` hook): the job dials the agent's device, the
leg stored as a `call_participant` of role "offer". When the agent answers, Twilio fetches `offer-answer`: the leg is
marked joined, hears "connecting" and hold music, and `call.offer_answered` tells routing (a durable listener above
us) to accept the offer as that agent. The accept (telephony.controls.accept) then moves the caller into a fresh
conference and redirects the answered leg into it: the device is not rung again.

The offer closing otherwise (rejected, timed out, withdrawn) queues `STOP_JOB` (the `stop_ringing` hook): the leg is
canceled while it rings, completed once answered. An accept on the console while the phone rings cancels the ringing
leg and takes the normal accept path (the device rings once more, for the accepted call): one leg stays. An answer
after the offer closed hears that the call is gone and hangs up."""

from __future__ import annotations

from typing import Any

import structlog

from app.lib import jobs
from app.lib.clock import now
from app.lib.db import current_tenant, current_uow, resolve_active, tenant_context
from app.lib.errors import DomainError
from realtime.publish import emit
from telephony import client, twiml
from telephony import config as config_service
from telephony.calls import FINAL
from telephony.events import CALL_OFFER_ANSWERED
from telephony.tables import Call, CallParticipant, OperatorDevice

log = structlog.get_logger(__name__)

RING_JOB = "telephony.ring_offer"
STOP_JOB = "telephony.stop_offer_ring"
ROLE = "offer"


async def ring(offer_id: int, conversation_id: int, user_id: int, seconds: int) -> None:
    """The `call` Channel's `ring` hook (inside the router's transaction): queue the dial."""
    await jobs.enqueue(RING_JOB, {"offer_id": offer_id, "conversation_id": conversation_id, "user_id": user_id,
                                  "timeout": seconds})


async def stop(offer_id: int, conversation_id: int) -> None:
    """The `call` Channel's `stop_ringing` hook: queue the end of the offer's leg."""
    await jobs.enqueue(STOP_JOB, {"offer_id": offer_id, "conversation_id": conversation_id})


async def _waiting_call(conversation_id: int) -> dict[str, Any] | None:
    """The live inbound call of a waiting conversation (a callback's caller hung up: nothing to bridge)."""
    call = await Call.select().where(Call.conversation == conversation_id).order_by(Call.id, ascending=False).first()
    if call is None or call["status"] in FINAL or call["direction"] != "inbound" or call["conference_name"]:
        return None
    return call


async def offer_leg(call_id: int, user_id: int) -> dict[str, Any] | None:
    """The agent's offer leg of a call still ringing or answered (not yet joined to the caller), if any."""
    return await CallParticipant.select().where(
        (CallParticipant.call == call_id) & (CallParticipant.user == user_id) & (CallParticipant.role == ROLE)
        & CallParticipant.status.is_in(["ringing", "joined"])).order_by(CallParticipant.id, ascending=False).first()


async def dial(offer_id: int, conversation_id: int, user_id: int, seconds: int) -> str | None:
    """Ring the agent's device for an offered call; returns the leg's sid (None: nothing to ring, or the offer
    closed already: its stop left a marker)."""
    if await CallParticipant.exists().where(CallParticipant.offer_id == offer_id):
        return None
    call = await _waiting_call(conversation_id)
    device = await OperatorDevice.select().where(OperatorDevice.user == user_id).first()
    config = await config_service.load()
    if call is None or device is None or config is None or not config.numbers:
        return None
    if await offer_leg(call["id"], user_id) is not None:
        return None
    urls = twiml.Urls(current_tenant().slug)
    try:
        created = await client.call(config, lambda c: c.calls.create(
            to=device["address"], from_=config.numbers[0], url=urls.offer_answer, method="POST",
            timeout=max(5, seconds), status_callback=urls.participant_status, status_callback_event=["completed"],
            status_callback_method="POST"))
    except DomainError as exc:  # the console's offer still stands: no retry that could ring after it closed
        log.warning("offer_ring_refused", conversation_id=conversation_id, user_id=user_id, error=str(exc))
        return None
    await CallParticipant.insert(CallParticipant(call=call["id"], call_sid=created.sid, role=ROLE, user=user_id,
                                                 status="ringing", offer_id=offer_id, created_at=now(),
                                                 updated_at=now()))
    return str(created.sid)


async def hang_up(leg: dict[str, Any]) -> None:
    """End an offer leg: canceled while it rings; once answered, a message and a hang-up. Twilio refusing (it ended
    already) is fine: the leg is off the line either way."""
    await CallParticipant.update({CallParticipant.status: "left", CallParticipant.updated_at: now()}).where(
        CallParticipant.id == leg["id"])
    config = await config_service.load()
    if config is None:
        return
    # Ringing: canceled. Answered: told the call is gone, then hung up (the leg ends completed).
    change: dict[str, Any] = {"status": "canceled"} if leg["status"] == "ringing" else {"twiml": twiml.offer_gone()}
    try:
        await client.call(config, lambda c: c.calls(leg["call_sid"]).update(**change))
    except DomainError as exc:
        log.info("offer_leg_end_refused", call_sid=leg["call_sid"], error=str(exc))


async def end(offer_id: int, conversation_id: int) -> None:
    """End the offer's leg. The offer closed before its ring job ran: a marker row (no call, status left) keeps that
    job from ringing."""
    leg = await CallParticipant.select().where(CallParticipant.offer_id == offer_id).order_by(
        CallParticipant.id, ascending=False).first()
    if leg is None:
        call = await Call.select(Call.id).where(Call.conversation == conversation_id).order_by(
            Call.id, ascending=False).first()
        if call is not None:
            await current_uow().connection.execute(
                "INSERT INTO call_participant (call, call_sid, conference_sid, role, status, offer_id, created_at, "
                "updated_at) VALUES ($1, $2, '', $3, 'left', $4, now(), now()) ON CONFLICT (call_sid) DO NOTHING",
                call["id"], f"offer:{offer_id}", ROLE, offer_id)
    elif leg["status"] in ("ringing", "joined") and leg["role"] == ROLE:
        await hang_up(leg)


async def answered(call_sid: str) -> bool:
    """Twilio fetched the answer URL of an offer leg: True (and routing told) while the leg is still offered."""
    leg = await CallParticipant.select().where((CallParticipant.call_sid == call_sid)
                                               & (CallParticipant.role == ROLE)).first()
    if leg is not None and leg["status"] == "joined":
        return True  # Twilio asked again (our first answer did not reach it): the same answer, told once
    if leg is None or leg["status"] != "ringing":
        return False
    call = await Call.select(Call.conversation).where(Call.id == leg["call"]).first()
    await CallParticipant.update({CallParticipant.status: "joined", CallParticipant.updated_at: now()}).where(
        CallParticipant.id == leg["id"])
    await emit(CALL_OFFER_ANSWERED, offer_id=leg["offer_id"], conversation_id=call["conversation"], call_id=leg["call"],
               user_id=leg["user"])
    return True


# -- jobs ----------------------------------------------------------------------------------------------------------

async def ring_job(payload: dict[str, Any]) -> None:
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        await dial(int(payload["offer_id"]), int(payload["conversation_id"]), int(payload["user_id"]),
                   int(payload["timeout"]))


async def stop_job(payload: dict[str, Any]) -> None:
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        await end(int(payload["offer_id"]), int(payload["conversation_id"]))
