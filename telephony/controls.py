"""Console call controls: accept (take + bridge), hang up, hold/resume, transfer, through Twilio's Calls update.

Each action changes our rows first (the database decides who may), then asks Twilio; when Twilio refuses, a
savepoint undoes our part, so the console and the call never disagree. The JSON API and the console both call
these functions (the console through `conversations.services.accept`, which asks the `call` channel of
app/channels.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from app.accounts.services import Principal
from app.conversations import services as conversations
from app.lib.db import current_tenant, current_uow
from app.lib.errors import Forbidden, Invalid
from app.timeline import services as timeline
from telephony import client, twiml
from telephony import config as config_service
from telephony.calls import FINAL, by_conversation, emit_updated, get
from telephony.tables import Call, OperatorDevice


@contextlib.asynccontextmanager
async def _undo_on_error() -> AsyncIterator[None]:
    """A savepoint in the request's unit of work: on error our writes and the events they queued are dropped."""
    uow = current_uow()
    queued = len(uow._after_commit)
    try:
        async with uow.connection.transaction():
            yield
    except BaseException:
        del uow._after_commit[queued:]
        raise


async def _live_call(conversation_id: int) -> dict[str, Any]:
    call = await by_conversation(conversation_id)
    if call["status"] in FINAL:
        raise Invalid("The caller has already hung up.", field="conversation_id")
    return call


async def _handled_by(actor: Principal, conversation_id: int) -> dict[str, Any]:
    row = await conversations.get(conversation_id)
    if row["status"] != "active":
        raise Invalid("This call is %(status)s, not active.", field="conversation_id", status=row['status'])
    if row["assigned_to_id"] != actor.user_id and not actor.has_role("supervisor"):
        raise Forbidden("Only the operator handling this call or a supervisor can do that.")
    return row


async def _redirect(call: dict[str, Any], **update: Any) -> None:
    config = await config_service.require()
    await client.call(config, lambda c: c.calls(call["sid"]).update(**update))


async def _note(actor: Principal, call: dict[str, Any], summary: str, event: str, **payload: Any) -> None:
    if call["contact"] is not None:
        await timeline.record(call["contact"], "call", "internal", summary, actor_type="user", actor_id=actor.user_id,
                              actor_label=actor.label,
                              links={"call_id": call["id"], "conversation_id": call["conversation"]},
                              payload={"event": event, "call_sid": call["sid"], **payload})


async def accept(actor: Principal, conversation_id: int) -> dict[str, Any]:
    """Take the queued call and bridge it to the operator's device. If Twilio refuses, nothing is taken."""
    call = await _live_call(conversation_id)
    config = await config_service.require()
    device = await config_service.device_of(actor.user_id)
    answer = twiml.bridge_to_operator(config, twiml.Urls(current_tenant().slug), device)
    async with _undo_on_error():
        row = await conversations.take(actor, conversation_id)
        await Call.update({Call.operator: actor.user_id, Call.on_hold: False}).where(Call.id == call["id"])
        await client.call(config, lambda c: c.calls(call["sid"]).update(twiml=answer))
    return {"conversation": row, "call": await get(call["id"]), "device": device["address"]}


async def accept_from_console(actor: Principal, conversation_id: int) -> dict[str, Any]:
    """The console's Take on a call: the same accept; a call conversation with no Twilio call is only taken."""
    if not await Call.exists().where(Call.conversation == conversation_id):
        return await conversations.take(actor, conversation_id)
    return (await accept(actor, conversation_id))["conversation"]


async def hang_up(actor: Principal, conversation_id: int) -> dict[str, Any]:
    """End the call for both sides; Twilio's status callback completes it on the timeline."""
    await _handled_by(actor, conversation_id)
    call = await _live_call(conversation_id)
    async with _undo_on_error():
        await Call.update({Call.on_hold: False}).where(Call.id == call["id"])
        await _note(actor, call, f"{actor.name or actor.email} hung up", "hung_up")
        await _redirect(call, status="completed")
    return await get(call["id"])


async def hold(actor: Principal, conversation_id: int, on: bool) -> dict[str, Any]:
    """On: the caller hears music and the operator's phone is released. Off: the operator's phone rings again."""
    await _handled_by(actor, conversation_id)
    call = await _live_call(conversation_id)
    if bool(call["on_hold"]) == on:
        raise Invalid("The call is already on hold." if on else "The call is not on hold.", field="hold")
    urls = twiml.Urls(current_tenant().slug)
    if on:
        answer = twiml.hold(urls)
    else:
        device = await config_service.device_of(call["operator"] or actor.user_id)
        answer = twiml.bridge_to_operator(await config_service.require(), urls, device)
    async with _undo_on_error():
        await Call.update({Call.on_hold: on}).where(Call.id == call["id"])
        what = "put the caller on hold" if on else "resumed the call"
        await _note(actor, call, f"{actor.name or actor.email} {what}",
                    "hold" if on else "resumed")
        await _redirect(call, twiml=answer)
        await emit_updated(call)
    return await get(call["id"])


async def transfer(actor: Principal, conversation_id: int, *, user_id: int | None = None,
                   queue_key: str | None = None) -> dict[str, Any]:
    """Move the live call to another operator's device (their phone rings) or back into a queue (the caller waits
    with music again, and any console can accept it)."""
    await _handled_by(actor, conversation_id)
    call = await _live_call(conversation_id)
    urls = twiml.Urls(current_tenant().slug)
    if user_id is not None:
        if user_id == call["operator"]:
            raise Invalid("Choose another operator.", field="user_id")
        device = await config_service.device_of(user_id)
        answer = twiml.bridge_to_operator(await config_service.require(), urls, device)
    elif queue_key:
        await conversations.queue_by_key(queue_key)
        answer = twiml.queued(queue_key, urls)
    else:
        raise Invalid("Transfer to an operator or a queue.", field="target")
    async with _undo_on_error():
        row = await conversations.transfer(actor, conversation_id, user_id=user_id,
                                           queue_key=queue_key if user_id is None else None)
        await Call.update({Call.operator: user_id, Call.on_hold: False,
                           Call.queue_key: queue_key or call["queue_key"]}).where(Call.id == call["id"])
        await _redirect(call, twiml=answer)
    return {"conversation": row, "call": await get(call["id"])}


# -- what the console shows next to a call ----------------------------------------------------------------------



async def console_extras(ctx: dict[str, Any]) -> dict[str, Any]:
    """For the console's call items: the call's state and other operators to transfer to (the caller's lifetime
    value and open orders come from app.orders.live)."""
    items = [c for c in [*ctx["waiting"], *ctx["mine"]] if c["channel"] == "call"]
    if not items:
        return {"calls": {}, "operators": []}
    rows = await Call.select(Call.conversation, Call.id, Call.status, Call.on_hold, Call.from_number).where(
        Call.conversation.is_in([c["id"] for c in items])).order_by(Call.id)
    calls = {r["conversation"]: r for r in rows}
    operators = []
    if ctx["mine"]:
        operators = await OperatorDevice.select(OperatorDevice.user.as_alias("id"),
                                                OperatorDevice.user.name.as_alias("name")).where(
            OperatorDevice.user.status == "active").order_by(OperatorDevice.user.name)
    return {"calls": calls, "operators": operators}

