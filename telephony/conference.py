"""Calls as Twilio Conferences: the customer's leg joins a conference named per join, the operator, a colleague of a
warm transfer and a listening supervisor are its Participants. Twilio's conference callbacks keep our
`call_participant` rows (who is on the line, muted, held, coaching) and the call's state (in progress once an
operator joined) in step with the real call."""

from __future__ import annotations

import secrets
from typing import Any

from app.accounts.tables import User
from app.conversations import events as queue_events
from app.conversations import services as conversations
from app.conversations.tables import Conversation
from app.lib.clock import now
from app.lib.db import current_tenant, current_uow
from app.timeline import services as timeline
from realtime.publish import emit
from telephony import calls, client, twiml
from telephony import config as config_service
from telephony.calls import FINAL, NotReady, emit_updated
from telephony.config import Config
from telephony.tables import Call, CallParticipant

ROLES = ("customer", "operator", "transfer", "supervisor")
LIVE = ("ringing", "joined")
MODES = {"listen": {"muted": True, "coaching": False}, "whisper": {"muted": False, "coaching": True},
         "barge": {"muted": False, "coaching": False}}


def new_name(call: dict[str, Any]) -> str:
    """A fresh conference per join (accept, cold transfer): a redirected customer leaves the old one, which ends."""
    return f"sb-{call['id']}-{secrets.token_hex(4)}"


def _urls() -> twiml.Urls:
    return twiml.Urls(current_tenant().slug)


async def join_customer(config: Config, call: dict[str, Any], name: str) -> None:
    """Redirect the customer's leg into conference `name` (they hear hold music until an operator joins)."""
    answer = twiml.join_conference(config, _urls(), name)
    await client.call(config, lambda c: c.calls(call["sid"]).update(twiml=answer))
    await Call.update({Call.conference_name: name, Call.conference_sid: "", Call.on_hold: False}).where(
        Call.id == call["id"])
    await _upsert(call["id"], call["sid"], role="customer", user_id=None, status="ringing", conference_sid="",
                  ours=True)


async def add_leg(config: Config, call: dict[str, Any], *, role: str, user_id: int, device: dict[str, Any],
                  muted: bool = False, coaching: bool = False, coach: str | None = None) -> dict[str, Any]:
    """Ring a teammate's device; when they answer Twilio puts them into the call's conference. The handling
    operator's hang-up ends the conference (and the call), as a hang-up did before calls were conferences; a
    colleague's or a supervisor's does not."""
    urls = _urls()
    name = call["conference_name"]
    extra: dict[str, Any] = {}
    if coaching and coach:
        extra.update(coaching=True, call_sid_to_coach=coach)
    created = await client.call(config, lambda c: c.conferences(name).participants.create(
        from_=config.numbers[0], to=device["address"], label=f"{role}-{user_id}", muted=muted, beep="false",
        start_conference_on_enter=True, end_conference_on_exit=role == "operator", early_media=True, timeout=30,
        status_callback=urls.participant_status, status_callback_method="POST",
        status_callback_event=["completed"], conference_status_callback=urls.conference,
        conference_status_callback_method="POST", conference_status_callback_event=twiml.CONFERENCE_EVENTS.split(),
        **extra))
    if created.conference_sid and not call["conference_sid"]:
        await Call.update({Call.conference_sid: created.conference_sid}).where(Call.id == call["id"])
    await _upsert(call["id"], created.call_sid, role=role, user_id=user_id, status="ringing",
                  conference_sid=created.conference_sid or "", muted=muted, coaching=bool(coaching and coach),
                  ours=True)
    return await participant(created.call_sid)


async def update_leg(config: Config, call: dict[str, Any], call_sid: str, **changes: Any) -> None:
    name = call["conference_sid"] or call["conference_name"]
    await client.call(config, lambda c: c.conferences(name).participants(call_sid).update(**changes))
    local = {getattr(CallParticipant, k): v for k, v in changes.items() if k in ("muted", "hold", "coaching")}
    if local:
        await CallParticipant.update({**local, CallParticipant.updated_at: now()}).where(
            CallParticipant.call_sid == call_sid)


async def remove_leg(config: Config, call: dict[str, Any], call_sid: str) -> None:
    name = call["conference_sid"] or call["conference_name"]
    await client.call(config, lambda c: c.conferences(name).participants(call_sid).delete())
    await CallParticipant.update({CallParticipant.status: "left", CallParticipant.updated_at: now()}).where(
        CallParticipant.call_sid == call_sid)


async def _upsert(call_id: int, call_sid: str, *, role: str, user_id: int | None, status: str,
                  conference_sid: str, muted: bool = False, hold: bool = False, coaching: bool = False,
                  sequence: int = -1, ours: bool = False) -> None:
    """Write a participant's row. `ours`: the row our side writes when it rings a leg (or moves the caller to a new
    conference); it does not overwrite what a callback of the same conference already applied (the worker may have
    run the leg's join before the request that rang it got this far)."""
    keep = (" WHERE call_participant.conference_sid IS DISTINCT FROM EXCLUDED.conference_sid "
            "OR call_participant.conference_sequence < 0") if ours else ""
    await current_uow().connection.execute(
        "INSERT INTO call_participant (call, call_sid, conference_sid, role, \"user\", status, muted, hold, coaching, "  # noqa: S608 (`keep` is one of two constants)
        "conference_sequence, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now(), now()) "
        "ON CONFLICT (call_sid) DO UPDATE SET conference_sid = EXCLUDED.conference_sid, role = EXCLUDED.role, "
        "\"user\" = EXCLUDED.\"user\", status = EXCLUDED.status, muted = EXCLUDED.muted, hold = EXCLUDED.hold, "
        "coaching = EXCLUDED.coaching, conference_sequence = EXCLUDED.conference_sequence, updated_at = now()"
        + keep,
        call_id, call_sid, conference_sid, role, user_id, status, muted, hold, coaching, sequence)


async def participant(call_sid: str) -> dict[str, Any]:
    return await CallParticipant.select().where(CallParticipant.call_sid == call_sid).first()


async def on_line(call_id: int) -> list[dict[str, Any]]:
    """Who is on the call now (ringing or joined), customer first, with names: what the console shows."""
    return await CallParticipant.select(
        CallParticipant.id, CallParticipant.call_sid, CallParticipant.role, CallParticipant.user,
        CallParticipant.user.name.as_alias("name"), CallParticipant.status, CallParticipant.muted,
        CallParticipant.hold, CallParticipant.coaching).where(
        (CallParticipant.call == call_id) & CallParticipant.status.is_in(list(LIVE))).order_by(CallParticipant.id)


async def on_line_of(call_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    if not call_ids:
        return {}
    rows = await CallParticipant.select(
        CallParticipant.call, CallParticipant.call_sid, CallParticipant.role, CallParticipant.user,
        CallParticipant.user.name.as_alias("name"), CallParticipant.status, CallParticipant.muted,
        CallParticipant.hold, CallParticipant.coaching).where(
        CallParticipant.call.is_in(call_ids) & CallParticipant.status.is_in(list(LIVE))).order_by(CallParticipant.id)
    out: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["call"], []).append(r)
    return out


def mode_of(p: dict[str, Any]) -> str:
    """A supervisor's mode, from the flags Twilio reports."""
    if p["coaching"]:
        return "whisper"
    return "listen" if p["muted"] else "barge"


async def leg_of(call_id: int, *, role: str | None = None, user_id: int | None = None) -> dict[str, Any] | None:
    query = CallParticipant.select().where((CallParticipant.call == call_id)
                                           & CallParticipant.status.is_in(list(LIVE)))
    if role is not None:
        query = query.where(CallParticipant.role == role)
    if user_id is not None:
        query = query.where(CallParticipant.user == user_id)
    return await query.order_by(CallParticipant.id, ascending=False).first()


# -- Twilio's callbacks (webhook jobs) ---------------------------------------------------------------------------

def _role_of(label: str) -> tuple[str, int | None]:
    role, _, user = label.partition("-")
    return (role if role in ROLES else "customer"), (int(user) if user.isdigit() else None)


async def _call_of_conference(p: dict[str, str]) -> dict[str, Any] | None:
    conn = current_uow().connection
    row = await conn.fetchrow(
        "SELECT * FROM twilio_call WHERE (conference_sid = $1 AND $1 <> '') OR conference_name = $2 "
        "OR id = (SELECT call FROM call_participant WHERE conference_sid = $1 AND $1 <> '' LIMIT 1) "
        "ORDER BY id DESC LIMIT 1 FOR UPDATE", p.get("ConferenceSid", ""), p.get("FriendlyName", ""))
    return dict(row) if row is not None else None


async def on_conference(p: dict[str, str], meta: dict[str, Any]) -> None:
    """A conference status callback: keep who is on the line and the call's state as Twilio reports them.

    Twilio does not deliver callbacks in order, and one that comes before the accept (or transfer) that made the
    conference has committed is retried later (NotReady), after callbacks that were sent after it. So nothing here
    depends on arrival order: a participant goes ringing -> joined -> left and never back (a join that arrives after
    its leave changes nothing), the call goes in progress on the operator's join whenever it is applied, and a
    participant's flags (muted, hold, coaching) come from its newest event by SequenceNumber, kept per participant:
    a newer event of one participant (or the conference's start) never makes an older event of another stale."""
    call = await _call_of_conference(p)
    if call is None:
        raise NotReady(f"conference {p.get('FriendlyName')} of a call that is not known yet")
    event = p.get("StatusCallbackEvent", "")
    conference_sid = p.get("ConferenceSid", "")
    current = p.get("FriendlyName", "") == call["conference_name"]
    if current and conference_sid and call["conference_sid"] != conference_sid:
        await Call.update({Call.conference_sid: conference_sid}).where(Call.id == call["id"])
    seq = int(p["SequenceNumber"]) if p.get("SequenceNumber", "").isdigit() else None
    if event == "conference-end":
        await CallParticipant.update({CallParticipant.status: "left", CallParticipant.updated_at: now()}).where(
            (CallParticipant.call == call["id"]) & (CallParticipant.conference_sid == conference_sid)
            & (CallParticipant.role != "customer"))
        if current:  # the caller's row names this conference from now on: a late join of theirs changes nothing
            await CallParticipant.update({CallParticipant.status: "left", CallParticipant.updated_at: now(),
                                          CallParticipant.conference_sid: conference_sid}).where(
                (CallParticipant.call == call["id"]) & (CallParticipant.role == "customer"))
        await emit_updated(call)
        return
    call_sid = p.get("CallSid", "")
    if not call_sid:
        return
    flags = {"muted": p.get("Muted") == "true", "hold": p.get("Hold") == "true",
             "coaching": p.get("Coaching") == "true"}
    known = await participant(call_sid)
    # What we know of this participant in this conference (the caller's row, written before the conference had a
    # sid, and a row from an earlier conference of the same call count as nothing known yet).
    here = known is not None and known["conference_sid"] == conference_sid
    applied = known["conference_sequence"] if here and known is not None else -1
    newer = seq is None or seq > applied
    if event == "participant-leave":
        if known is not None and (current or here):
            await CallParticipant.update({CallParticipant.status: "left", CallParticipant.updated_at: now(),
                                          CallParticipant.conference_sid: conference_sid,
                                          CallParticipant.conference_sequence: max(applied, -1 if seq is None else seq)}
                                         ).where(
                CallParticipant.call_sid == call_sid)
        await emit_updated(call)
        return
    if not current:
        return  # an older conference of this call: only its leaves matter
    if here and known is not None and known["status"] == "left":
        return  # they have left this conference: an event from before their leave changes nothing
    role, user_id = _role_of(p.get("ParticipantLabel", ""))
    if known is not None:
        role, user_id = known["role"], known["user"]
    joined = event == "participant-join" or (here and known is not None and known["status"] == "joined")
    if not newer and known is not None:
        flags = {"muted": known["muted"], "hold": known["hold"], "coaching": known["coaching"]}
    await _upsert(call["id"], call_sid, role=role, user_id=user_id, status="joined" if joined else "ringing",
                  conference_sid=conference_sid, sequence=max(applied, -1 if seq is None else seq), **flags)
    if role == "customer" and newer and call["status"] not in FINAL:
        await Call.update({Call.on_hold: flags["hold"]}).where(Call.id == call["id"])
    outbound = call["direction"] != "inbound"
    if outbound and event == "participant-join" and role == "operator" and call["status"] not in FINAL \
            and not await CallParticipant.exists().where((CallParticipant.call == call["id"])
                                                         & (CallParticipant.role == "customer")):
        await _dial_customer(call)  # click-to-call: the operator is in, now ring the customer
    if event == "participant-join" and role == ("customer" if outbound else "operator") \
            and call["status"] not in FINAL:
        changes: dict[Any, Any] = {Call.status: "in-progress"}
        if call["answered_at"] is None:
            changes[Call.answered_at] = now()
        await Call.update(changes).where(Call.id == call["id"])
    await emit_updated(call)


async def _dial_customer(call: dict[str, Any]) -> None:
    """Click-to-call, once the operator joined: the customer as a participant, from the shop's number. Their leg is
    the call from now on (its sid is the call's, its status callbacks the call's status), as the caller's leg is of
    an inbound call; their hang-up ends the conference for everyone."""
    config = await config_service.require()
    urls = _urls()
    created = await client.call(config, lambda c: c.conferences(call["conference_name"]).participants.create(
        from_=config.numbers[0], to=call["to_number"], label="customer", beep="false",
        start_conference_on_enter=True, end_conference_on_exit=True, early_media=True, timeout=30,
        status_callback=urls.status, status_callback_method="POST",
        status_callback_event=["initiated", "ringing", "answered", "completed"]))
    await Call.update({Call.sid: created.call_sid, Call.status: "ringing"}).where(Call.id == call["id"])
    await _upsert(call["id"], created.call_sid, role="customer", user_id=None, status="ringing",
                  conference_sid=created.conference_sid or call["conference_sid"] or "")
    call["sid"] = created.call_sid


async def on_participant_status(p: dict[str, str], meta: dict[str, Any]) -> None:
    """A participant's own call ended (no answer, busy, hung up): they are off the line. An operator whose phone
    never answered leaves the caller alone in the conference: the caller goes back to the queue instead."""
    if p.get("CallStatus", "") not in FINAL:
        return
    known = await participant(p.get("CallSid", ""))
    if known is None or known["status"] == "left":
        return
    await CallParticipant.update({CallParticipant.status: "left", CallParticipant.updated_at: now()}).where(
        CallParticipant.id == known["id"])
    if known["role"] == "offer":  # the phone that rang for an offer (telephony.ringing): the call is not touched
        return
    row = await current_uow().connection.fetchrow("SELECT * FROM twilio_call WHERE id = $1 FOR UPDATE", known["call"])
    if row is None:
        return
    call = dict(row)
    if known["role"] == "operator" and known["status"] == "ringing" and call["status"] not in FINAL \
            and call["conference_name"] and await leg_of(call["id"], role="operator") is None:
        if call["direction"] == "inbound":
            await _back_to_queue(call, known, p.get("CallStatus", ""))
        elif await leg_of(call["id"], role="customer") is None:
            await _operator_missed_own_call(call, p.get("CallStatus", ""))
    await emit_updated(call)


async def _operator_missed_own_call(call: dict[str, Any], status: str) -> None:
    """Click-to-call whose operator never answered: the customer was never rung; the call ends there."""
    status = status if status in FINAL else "canceled"
    await Call.update({Call.status: status, Call.ended_at: now(), Call.on_hold: False, Call.outcome: "missed"}).where(
        Call.id == call["id"])
    call.update(status=status, ended_at=now(), on_hold=False, outcome="missed")
    await calls.finish(call)


async def _back_to_queue(call: dict[str, Any], leg: dict[str, Any], status: str) -> None:
    queue_key = call["queue_key"] or "general"
    config = await config_service.require()
    await client.call(config, lambda c: c.calls(call["sid"]).update(twiml=twiml.queued(queue_key, _urls())))
    await Call.update({Call.operator: None, Call.conference_name: "", Call.conference_sid: "",
                       Call.on_hold: False}).where(Call.id == call["id"])
    await CallParticipant.update({CallParticipant.status: "left"}).where(
        (CallParticipant.call == call["id"]) & (CallParticipant.role == "customer"))
    if call["conversation"] is not None:
        await Conversation.update({Conversation.status: "waiting", Conversation.assigned_to: None,
                                   Conversation.taken_at: None}).where(Conversation.id == call["conversation"])
        conv = await conversations.get(call["conversation"])
        await emit(queue_events.QUEUE_ITEM_ADDED, **queue_events.about(conv))
    if call["contact"] is not None:
        who = (await User.select(User.name).where(User.id == leg["user"]).first() or {}).get("name")
        await timeline.record(call["contact"], "call", "internal",
                              "%(name)s did not answer (%(status)s): the caller is back in the queue" if who
                              else "The operator did not answer (%(status)s): the caller is back in the queue",
                              params={"name": who, "status": status} if who else {"status": status},
                              links={"call_id": call["id"], "conversation_id": call["conversation"]},
                              payload={"event": "operator_missed", "call_sid": call["sid"], "status": status})
