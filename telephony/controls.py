"""Console call controls: accept (take + bridge), hang up, hold/resume, transfer, through Twilio's Calls update.

Each action changes our rows first (the database decides who may), then asks Twilio; when Twilio refuses, a
savepoint undoes our part, so the console and the call never disagree. The JSON API and the console both call
these functions (the console through `conversations.services.accept`, which asks the `call` channel of
app/channels.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from app.accounts.services import Principal
from app.accounts.tables import User
from app.conversations import dispositions
from app.conversations import services as conversations
from app.conversations.tables import Conversation
from app.lib.db import current_tenant, current_uow
from app.lib.errors import Conflict, Forbidden, Invalid, NotFound
from app.lib.i18n import N_
from app.timeline import services as timeline
from telephony import callbacks, client, conference, ringing, twiml
from telephony import config as config_service
from telephony.calls import FINAL, by_conversation, emit_updated, get
from telephony.tables import Call, CallParticipant, OperatorDevice


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


async def _note(actor: Principal, call: dict[str, Any], summary: str, event: str, *,
                words: dict[str, Any] | None = None, **payload: Any) -> None:
    """`summary` is a catalogue template (N_); `%(name)s` is the operator, `words` fill its other placeholders."""
    if call["contact"] is not None:
        await timeline.record(call["contact"], "call", "internal", summary,
                              params={"name": actor.name or actor.email, **(words or {})}, actor_type="user",
                              actor_id=actor.user_id,
                              actor_label=actor.label,
                              links={"call_id": call["id"], "conversation_id": call["conversation"]},
                              payload={"event": event, "call_sid": call["sid"], **payload})


async def accept(actor: Principal, conversation_id: int) -> dict[str, Any]:
    """Take the queued call: the caller joins the call's conference and the operator's device rings to join it; a
    callback (the caller hung up, keeping their place) rings the operator, then the customer. If Twilio refuses,
    nothing is taken."""
    if await callbacks.is_callback(conversation_id):  # the caller hung up to be called back: dial them
        device = await config_service.device_of(actor.user_id)
        async with _undo_on_error():
            done = await callbacks.call_back(actor, conversation_id)
        return {**done, "device": device["address"]}
    call = await _live_call(conversation_id)
    config = await config_service.require()
    device = await config_service.device_of(actor.user_id)
    async with _undo_on_error():
        row = await conversations.take(actor, conversation_id)
        await Call.update({Call.operator: actor.user_id, Call.on_hold: False}).where(Call.id == call["id"])
        leg = await ringing.offer_leg(call["id"], actor.user_id)
        if leg is not None and leg["status"] == "joined":  # they answered the offer's ring: no second ring
            await _join_answered(config, call, actor.user_id, leg)
        else:
            if leg is not None:  # accepted on the console while the phone rings: that ring ends, the accept's rings
                await ringing.hang_up(leg)
            await _into_conference(config, call, actor.user_id, device)
    return {"conversation": row, "call": await get(call["id"]), "device": device["address"]}


async def _into_conference(config: Any, call: dict[str, Any], user_id: int, device: dict[str, Any]) -> None:
    """The caller into a fresh conference (leaving any earlier one, which ends), then the operator's device rings."""
    name = conference.new_name(call)
    await conference.join_customer(config, call, name)
    await conference.add_leg(config, await get(call["id"]), role="operator", user_id=user_id, device=device)


async def _join_answered(config: Any, call: dict[str, Any], user_id: int, leg: dict[str, Any]) -> None:
    """The caller into a fresh conference, and the agent's already answered offer leg redirected into it."""
    name = conference.new_name(call)
    await conference.join_customer(config, call, name)
    answer = twiml.operator_join(config, twiml.Urls(current_tenant().slug), name, user_id)
    await client.call(config, lambda c: c.calls(leg["call_sid"]).update(twiml=answer))
    await CallParticipant.update({CallParticipant.role: "operator", CallParticipant.status: "ringing"}).where(
        CallParticipant.id == leg["id"])


async def accept_from_console(actor: Principal, conversation_id: int) -> dict[str, Any]:
    """The console's Take on a call: the same accept (a callback dials the customer); a call conversation with no
    Twilio call is only taken."""
    if not await callbacks.is_callback(conversation_id) and not await Call.exists().where(
            Call.conversation == conversation_id):
        return await conversations.take(actor, conversation_id)
    return (await accept(actor, conversation_id))["conversation"]


async def hang_up(actor: Principal, conversation_id: int) -> dict[str, Any]:
    """End the call for both sides; Twilio's status callback completes it on the timeline."""
    await _handled_by(actor, conversation_id)
    call = await _live_call(conversation_id)
    async with _undo_on_error():
        await Call.update({Call.on_hold: False}).where(Call.id == call["id"])
        await _note(actor, call, N_("%(name)s hung up"), "hung_up")
        await _redirect(call, status="completed")
    return await get(call["id"])


async def hold(actor: Principal, conversation_id: int, on: bool) -> dict[str, Any]:
    """On: the caller is held in the conference and hears music; the operator stays on the line. Off: they talk."""
    await _handled_by(actor, conversation_id)
    call = await _live_call(conversation_id)
    if bool(call["on_hold"]) == on:
        raise Invalid("The call is already on hold." if on else "The call is not on hold.", field="hold")
    customer = await _customer_leg(call)
    config = await config_service.require()
    async with _undo_on_error():
        await Call.update({Call.on_hold: on}).where(Call.id == call["id"])
        await _note(actor, call, N_("%(name)s put the caller on hold") if on else N_("%(name)s resumed the call"),
                    "hold" if on else "resumed")
        changes: dict[str, Any] = {"hold": on}
        if on:
            changes.update(hold_url=twiml.Urls(current_tenant().slug).hold_music, hold_method="GET")
        await conference.update_leg(config, call, customer, **changes)
        await emit_updated(call)
    return await get(call["id"])


async def _customer_leg(call: dict[str, Any]) -> str:
    if not call["conference_name"]:
        raise Invalid("This call is not connected to an operator yet.", field="conversation_id")
    await _customer_rung(call)
    return str(call["sid"])


async def _customer_rung(call: dict[str, Any]) -> None:
    """A click-to-call's customer is rung once the operator is on the line: until then the call has no customer
    leg to hold, transfer or play tones to."""
    if call["direction"] != "inbound" and await conference.leg_of(call["id"], role="customer") is None:
        raise Invalid("The customer is not on the line yet.", field="conversation_id")


async def mute(actor: Principal, conversation_id: int, on: bool) -> dict[str, Any]:
    """Mute or unmute your own line in the call (the caller and colleagues stop hearing you)."""
    await conversations.get(conversation_id)
    call = await _live_call(conversation_id)
    leg = await conference.leg_of(call["id"], user_id=actor.user_id)
    if leg is None:
        raise Invalid("You are not on this call.", field="conversation_id")
    if bool(leg["muted"]) == on:
        raise Invalid("You are already muted." if on else "You are not muted.", field="on")
    config = await config_service.require()
    async with _undo_on_error():
        await conference.update_leg(config, call, leg["call_sid"], muted=on)
        await emit_updated(call)
    return {"call": await get(call["id"]), "participants": await conference.on_line(call["id"])}


async def send_digits(actor: Principal, conversation_id: int, digits: str) -> dict[str, Any]:
    """The keypad: play DTMF tones to the caller's leg (an announcement to that participant only)."""
    await _handled_by(actor, conversation_id)
    call = await _live_call(conversation_id)
    digits = (digits or "").strip()
    if not twiml.DTMF_RE.match(digits):
        raise Invalid("Digits are 0-9, * and # (w for a half-second pause), at most 32.", field="digits")
    customer = await _customer_leg(call)
    url = twiml.Urls(current_tenant().slug).announce + "?" + urlencode({"digits": digits})
    await conference.update_leg(await config_service.require(), call, customer, announce_url=url,
                                announce_method="POST")
    return {"call": await get(call["id"]), "digits": digits}


async def transfer(actor: Principal, conversation_id: int, *, user_id: int | None = None,
                   queue_key: str | None = None) -> dict[str, Any]:
    """Move the live call to another operator's device (their phone rings) or back into a queue (the caller waits
    with music again, and any console can accept it)."""
    await _handled_by(actor, conversation_id)
    call = await _live_call(conversation_id)
    await _customer_rung(call)
    urls = twiml.Urls(current_tenant().slug)
    config = await config_service.require()
    device: dict[str, Any] | None = None
    if user_id is not None:
        if user_id == call["operator"]:
            raise Invalid("Choose another operator.", field="user_id")
        device = await config_service.device_of(user_id)
    elif queue_key:
        await conversations.queue_by_key(queue_key)
    else:
        raise Invalid("Transfer to an operator or a queue.", field="target")
    async with _undo_on_error():
        row = await conversations.transfer(actor, conversation_id, user_id=user_id,
                                           queue_key=queue_key if user_id is None else None)
        await Call.update({Call.operator: user_id, Call.on_hold: False,
                           Call.queue_key: queue_key or call["queue_key"]}).where(Call.id == call["id"])
        if user_id is not None and device is not None:
            await _into_conference(config, call, user_id, device)
        else:
            await _redirect(call, twiml=twiml.queued(str(queue_key), urls))
            await Call.update({Call.conference_name: "", Call.conference_sid: ""}).where(Call.id == call["id"])
            await CallParticipant.update({CallParticipant.status: "left"}).where(
                (CallParticipant.call == call["id"]) & (CallParticipant.role == "customer"))
    return {"conversation": row, "call": await get(call["id"])}


# -- warm transfer ----------------------------------------------------------------------------------------------

async def warm_transfer(actor: Principal, conversation_id: int, user_id: int) -> dict[str, Any]:
    """Talk to a colleague first: the caller is held (music) and the colleague's device rings into the call."""
    await _handled_by(actor, conversation_id)
    call = await _live_call(conversation_id)
    await _customer_leg(call)
    if user_id == call["operator"]:
        raise Invalid("Choose another operator.", field="user_id")
    if await conference.leg_of(call["id"], role="transfer") is not None:
        raise Conflict("A colleague is already on the line for this transfer: connect them or come back first.")
    target = await User.select(User.id, User.name).where((User.id == user_id) & (User.status == "active")).first()
    if target is None:
        raise Invalid("No active user %(user_id)s.", field="user_id", user_id=user_id)
    device = await config_service.device_of(user_id)
    config = await config_service.require()
    async with _undo_on_error():
        if not call["on_hold"]:
            await Call.update({Call.on_hold: True}).where(Call.id == call["id"])
            await conference.update_leg(config, call, call["sid"], hold=True, hold_method="GET",
                                        hold_url=twiml.Urls(current_tenant().slug).hold_music)
        await conference.add_leg(config, call, role="transfer", user_id=user_id, device=device)
        await _note(actor, call, N_("%(name)s asked %(colleague)s to take the call"), "warm_transfer",
                    words={"colleague": target["name"]}, user_id=user_id)
        await emit_updated(call)
    return await _state(call)


async def warm_complete(actor: Principal, conversation_id: int, *, connect: bool) -> dict[str, Any]:
    """Connect: you leave, the caller talks to the colleague (who now handles the call). Come back: the colleague
    leaves and the caller talks to you again. Either way the caller is no longer held."""
    await _handled_by(actor, conversation_id)
    call = await _live_call(conversation_id)
    leg = await conference.leg_of(call["id"], role="transfer")
    if leg is None:
        raise Invalid("No colleague is on the line for a transfer.", field="conversation_id")
    if connect and leg["status"] != "joined":
        raise Invalid("Your colleague has not answered yet.", field="conversation_id")
    config = await config_service.require()
    async with _undo_on_error():
        if connect:
            # The colleague's hang-up ends the call from now on; the leaving operator's no longer does.
            await conference.update_leg(config, call, leg["call_sid"], end_conference_on_exit=True)
            while (mine := await conference.leg_of(call["id"], role="operator")) is not None:
                await conference.update_leg(config, call, mine["call_sid"], end_conference_on_exit=False)
                await conference.remove_leg(config, call, mine["call_sid"])
            await conversations.transfer(actor, conversation_id, user_id=leg["user"])
            await Call.update({Call.operator: leg["user"]}).where(Call.id == call["id"])
            await CallParticipant.update({CallParticipant.role: "operator"}).where(CallParticipant.id == leg["id"])
        else:
            await conference.remove_leg(config, call, leg["call_sid"])
        await Call.update({Call.on_hold: False}).where(Call.id == call["id"])
        await conference.update_leg(config, call, call["sid"], hold=False)
        await _note(actor, call, N_("%(name)s connected the caller to a colleague") if connect
                    else N_("%(name)s came back to the caller"), "warm_connect" if connect else "warm_back")
        await emit_updated(call)
    return await _state(call)


# -- supervisors: listen, whisper, barge ------------------------------------------------------------------------

def _supervisor(actor: Principal) -> None:
    if not actor.has_role("supervisor"):
        raise Forbidden("Only supervisors and admins can listen, whisper or barge.")


async def monitor(actor: Principal, conversation_id: int, mode: str) -> dict[str, Any]:
    """Join any live call as a supervisor: listen (muted), whisper (only the operator hears you: Twilio's coaching)
    or barge (everyone hears you); calling again switches the mode."""
    _supervisor(actor)
    if mode not in conference.MODES:
        raise Invalid("Choose listen, whisper or barge.", field="mode")
    row = await conversations.get(conversation_id)
    call = await _live_call(conversation_id)
    if row["status"] != "active" or not call["conference_name"]:
        raise Invalid("This call is not connected to an operator yet.", field="conversation_id")
    operator = await conference.leg_of(call["id"], role="operator")
    if mode == "whisper" and (operator is None or operator["status"] != "joined"):
        raise Invalid("The operator is not on the line yet: whispering needs them.", field="mode")
    flags = conference.MODES[mode]
    coach = operator["call_sid"] if operator is not None and flags["coaching"] else None
    mine = await conference.leg_of(call["id"], user_id=actor.user_id)
    if mine is not None and mine["role"] != "supervisor":
        raise Invalid("You are on this call already.", field="mode")
    config = await config_service.require()
    async with _undo_on_error():
        if mine is None:
            device = await config_service.device_of(actor.user_id)
            await conference.add_leg(config, call, role="supervisor", user_id=actor.user_id, device=device,
                                     muted=flags["muted"], coaching=flags["coaching"], coach=coach)
        else:
            changes: dict[str, Any] = {"muted": flags["muted"], "coaching": flags["coaching"]}
            if coach:
                changes["call_sid_to_coach"] = coach
            await conference.update_leg(config, call, mine["call_sid"], **changes)
        doing = {"listen": N_("%(name)s is listening to the call"),
                 "whisper": N_("%(name)s is whispering to the operator on the call"),
                 "barge": N_("%(name)s joined the call")}[mode]
        await _note(actor, call, doing, "supervisor", mode=mode)
        await emit_updated(call)
    return {**await _state(call), "mode": mode}


async def stop_monitoring(actor: Principal, conversation_id: int) -> dict[str, Any]:
    _supervisor(actor)
    await conversations.get(conversation_id)
    call = await _live_call(conversation_id)
    mine = await conference.leg_of(call["id"], role="supervisor", user_id=actor.user_id)
    if mine is None:
        raise Invalid("You are not on this call.", field="conversation_id")
    async with _undo_on_error():
        await conference.remove_leg(await config_service.require(), call, mine["call_sid"])
        await emit_updated(call)
    return await _state(call)


async def line(actor: Principal, conversation_id: int) -> dict[str, Any]:
    """The call of a conversation the actor may see, and who is on its line."""
    row = await conversations.get(conversation_id)
    if row["assigned_to_id"] != actor.user_id and not actor.has_role("supervisor") and \
            row["queue_id"] not in await conversations.visible_queue_ids(actor):
        raise NotFound("No conversation %(conversation_id)s.", conversation_id=conversation_id)
    return await _state(await by_conversation(conversation_id))


async def live_calls() -> list[dict[str, Any]]:
    """Every call with an operator on it now, with who is on its line (the supervisor's list)."""
    rows = await Call.select().where(Call.status.not_in(list(FINAL)) & (Call.conference_name != "")
                                     & Call.conversation.is_not_null()).order_by(Call.id)
    lines = await conference.on_line_of([r["id"] for r in rows])
    return [{"call": public(r), "participants": lines.get(r["id"], [])} for r in rows]


async def _state(call: dict[str, Any]) -> dict[str, Any]:
    return {"call": public(await get(call["id"])), "participants": await conference.on_line(call["id"])}


def state_of(call: dict[str, Any]) -> str:
    """The badge: ringing (waiting, or the operator's phone rings), in-progress (an operator joined), on-hold,
    ended."""
    if call["status"] in FINAL:
        return "ended"
    if call["on_hold"]:
        return "on-hold"
    return "in-progress" if call["status"] == "in-progress" else "ringing"


def public(call: dict[str, Any]) -> dict[str, Any]:
    """A call as the API shows it: its state, never the storage key of its recording."""
    return {k: v for k, v in call.items() if k != "recording_key"} | {"has_recording": bool(call["recording_key"]),
                                                                      "state": state_of(call)}


# -- what the console shows next to a call ----------------------------------------------------------------------



async def console_extras(ctx: dict[str, Any]) -> dict[str, Any]:
    """For the console's call items: the call's state (badge, timer, recording, who is on the line), other operators
    to transfer to, and every live call of the team (supervisors listen, whisper or barge from there). The caller's
    lifetime value and open orders come from app.orders.live."""
    items = [c for c in [*ctx["waiting"], *ctx["mine"]] if c["channel"] == "call"]
    columns = (Call.conversation, Call.id, Call.status, Call.on_hold, Call.from_number, Call.answered_at,
               Call.ended_at, Call.recording_status, Call.conference_name, Call.operator,
               Call.operator.name.as_alias("operator_name"), Call.created_at)
    rows = await Call.select(*columns).where(Call.conversation.is_in([c["id"] for c in items] or [0])).order_by(
        Call.id) if items else []
    live = await Call.select(*columns).where(Call.status.not_in(list(FINAL)) & (Call.conference_name != "")
                                             & Call.conversation.is_not_null()).order_by(Call.id)
    lines = await conference.on_line_of([r["id"] for r in [*rows, *live]])
    codes = await _queue_codes([r["conversation"] for r in rows])
    for r in [*rows, *live]:
        r["state"] = state_of(r)
        r["codes"] = codes.get(r["conversation"], [])
        r["participants"] = lines.get(r["id"], [])
    calls = {r["conversation"]: r for r in rows}
    operators = []
    if ctx["mine"]:
        operators = await OperatorDevice.select(OperatorDevice.user.as_alias("id"),
                                                OperatorDevice.user.name.as_alias("name")).where(
            OperatorDevice.user.status == "active").order_by(OperatorDevice.user.name)
    return {"calls": calls, "operators": operators, "live_calls": live, "dispositions": DISPOSITIONS}


DISPOSITIONS = ("resolved", "callback", "sale", "complaint", "wrong-number", "no-answer")
"""Wrap-up codes offered after a call in a queue that defines none of its own (the form still takes any code);
a queue's own codes (app.conversations.dispositions) replace them on its calls (`call["codes"]`)."""


async def _queue_codes(conversation_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The disposition codes of each call conversation's queue (empty: the queue defines none)."""
    if not conversation_ids:
        return {}
    rows = await Conversation.select(Conversation.id, Conversation.queue.as_alias("queue_id")).where(
        Conversation.id.is_in(conversation_ids))
    by_queue = await dispositions.by_queue(sorted({r["queue_id"] for r in rows}))
    return {r["id"]: by_queue.get(r["queue_id"], []) for r in rows}


async def call_panel(conversation_id: int) -> dict[str, Any]:
    """What `_partials/console_call.html` needs for one conversation outside the console (the workspace includes the
    partial with `c`, `user`, `tenant`, `queues` and this): the call with its state and who is on the line, operators
    to transfer to, the disposition codes; {} when the conversation has no call."""
    extras = await console_extras({"waiting": [], "mine": [{"id": conversation_id, "channel": "call"}]})
    call = extras["calls"].get(conversation_id)
    if call is None:
        return {}
    return {"call": call, "operators": extras["operators"], "dispositions": DISPOSITIONS}
