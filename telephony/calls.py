"""Call workflows of the webhook jobs and the console: queue, accept, status, voicemail, recording, click-to-call."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from app.accounts.services import Principal
from app.contacts import events as contact_events
from app.contacts import identities
from app.contacts import services as contacts
from app.conversations import events as queue_events
from app.conversations import services as conversations
from app.conversations.tables import Conversation
from app.lib.clock import now
from app.lib.db import current_tenant, current_uow
from app.lib.domain import MergeStep
from app.lib.errors import NotFound
from app.lib.i18n import N_
from app.lib.identities import pretty_phone, try_phone
from app.lib.storage import ObjectNotFound, get_storage
from app.timeline import services as timeline
from realtime import channels
from realtime.publish import emit
from telephony import client, twiml
from telephony import config as config_service
from telephony.events import CALL_UPDATED
from telephony.tables import Call, CallParticipant

FINAL = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
RANK = {"queued": 0, "initiated": 1, "ringing": 2, "in-progress": 3}


class NotReady(Exception):
    """A callback arrived before the call it belongs to is known; the job is retried (Twilio does not order them)."""


def _conn() -> Any:
    return current_uow().connection


async def contact_for(number: str) -> int | None:
    """The contact owning `number`, created when the number is new; None for withheld or non-phone callers."""
    e164 = try_phone(number, await contacts.default_region()) if number.startswith("+") else None
    if e164 is None:
        return None
    return await identities.find_or_create(None, phone=e164, source="telephony")


async def ensure_call(p: dict[str, str], *, direction: str | None = None) -> dict[str, Any]:
    """The call row for CallSid, created (with its contact for inbound calls) on first sight; locked for update."""
    sid = p["CallSid"]
    conn = _conn()
    row = await conn.fetchrow("SELECT * FROM twilio_call WHERE sid = $1 FOR UPDATE", sid)
    if row is not None:
        return dict(row)
    direction = direction or p.get("Direction", "inbound")
    if direction != "inbound":
        # Our own calls (click-to-call's customer leg) are stored before Twilio is asked for them; a callback that
        # is faster than that commit waits for it (the job is retried) rather than starting a second call row.
        raise NotReady(f"{direction} call {sid} that is not known yet")
    customer = p.get("From", "") if direction == "inbound" else p.get("To", "")
    contact_id = await contact_for(customer) if direction == "inbound" else None
    # A callback that ran before the call was known starts it as ringing even when it says the call is over: its
    # handler then applies the final status like any other, so the call is finished (outcome, timeline) once.
    status = p.get("CallStatus") or "ringing"
    await conn.execute(
        "INSERT INTO twilio_call (sid, direction, from_number, to_number, status, last_sequence, outcome, contact, "
        "queue_key, created_at, recording_sid, recording_status, recording_key) "
        "VALUES ($1, $2, $3, $4, $5, -1, '', $6, '', now(), '', '', '') ON CONFLICT (sid) DO NOTHING",
        sid, direction, p.get("From", ""), p.get("To", ""), "ringing" if status in FINAL else status, contact_id)
    return dict(await conn.fetchrow("SELECT * FROM twilio_call WHERE sid = $1 FOR UPDATE", sid))


async def callback_asked(sid: str) -> bool:
    """Whether the caller pressed the callback digit while waiting: its webhook is stored before Twilio reports the
    call's end, so this holds whichever of the two jobs runs first."""
    return bool(await _conn().fetchval(
        "SELECT 1 FROM twilio_webhook WHERE kind = 'callback' AND sid = $1 LIMIT 1", sid[:64]))


async def _update(call_id: int, **values: Any) -> None:
    await Call.update({getattr(Call, k): v for k, v in values.items()}).where(Call.id == call_id)


def _label(call: dict[str, Any]) -> str:
    number = call["from_number"] if call["direction"] == "inbound" else call["to_number"]
    return pretty_phone(number) if number.startswith("+") else (number or "unknown caller")


async def queue_call(p: dict[str, str], queue_key: str) -> None:
    """The caller entered the tenant's queue: open the conversation every console sees."""
    call = await ensure_call(p)
    if call["conversation"] is not None or (call["status"] in FINAL and call["outcome"] != "callback"):
        return  # a caller who hung up before this job ran is not waiting (unless to be called back)
    row = await conversations.open_conversation(channel="call", queue_key=queue_key, contact_id=call["contact"],
                                                subject=f"Call from {_label(call)}", from_address=call["from_number"],
                                                external_ref=call["sid"])
    await _update(call["id"], conversation=row["id"], queue_key=queue_key)


async def on_voice(p: dict[str, str], meta: dict[str, Any]) -> None:
    call = await ensure_call(p)
    if meta.get("route") == "voicemail" and meta.get("queue"):  # the queue's calendar is closed
        await _update(call["id"], queue_key=meta["queue"])  # the voicemail's callback task waits in that queue
    elif meta.get("route") == "queue":
        await queue_call(p, meta["queue"])
    elif meta.get("route") == "blocked":  # refused by the voice webhook: kept as a closed conversation, no queue item
        await queue_call(p, "general")


async def on_fallback(p: dict[str, str], meta: dict[str, Any]) -> None:
    """Twilio could not run our answer for this call and used the fallback URL, which queued the caller: say so on
    the caller's timeline, so the operator knows why the menu was skipped."""
    call = await ensure_call(p)
    if call["contact"] is not None:
        code = p.get("ErrorCode", "")
        await timeline.record(call["contact"], "call", "internal",
                              "Phone system error %(code)s: the caller was sent to the general queue",
                              params={"code": code},
                              links={"call_id": call["id"]},
                              payload={"event": "twilio_error", "error_code": code, "error_url": p.get("ErrorUrl", "")})


async def on_gather(p: dict[str, str], meta: dict[str, Any]) -> None:
    if meta.get("route") == "voicemail":  # the chosen queue's calendar is closed: the caller leaves a message
        await _update((await ensure_call(p))["id"], queue_key=meta["queue"])
        return
    await queue_call(p, meta["queue"])


async def on_status(p: dict[str, str], meta: dict[str, Any]) -> None:
    """Apply a status callback unless it is older than what we know: SequenceNumber orders them, and a call
    never leaves a final state."""
    call = await ensure_call(p)
    status = p["CallStatus"]
    seq = int(p["SequenceNumber"]) if p.get("SequenceNumber", "").isdigit() else None
    if call["status"] in FINAL:
        return
    if seq is not None and seq <= call["last_sequence"]:
        return
    if status not in FINAL and RANK.get(status, 0) < RANK.get(call["status"], 0):
        return  # a call never goes back (a conference join may have told us it is in progress first)
    changes: dict[str, Any] = {"status": status}
    if seq is not None:
        changes["last_sequence"] = seq
    if status == "in-progress" and call["direction"] != "inbound" and call["answered_at"] is None:
        changes["answered_at"] = now()
    if status in FINAL:
        changes["ended_at"] = now()
        changes["on_hold"] = False
        if p.get("CallDuration", "").isdigit():
            changes["duration"] = int(p["CallDuration"])
    await _update(call["id"], **changes)
    if status in FINAL:
        await finish({**call, **changes})
        if call["direction"] != "inbound" and call["answered_at"] is None:
            await _release_own_legs(call)
    await emit_updated(call)


async def _release_own_legs(call: dict[str, Any]) -> None:
    """Click-to-call whose customer never answered (busy, no answer): the operator is alone in the conference, which
    their end would not end; hang up our own legs. A leg Twilio says is over already is simply marked left."""
    legs = await CallParticipant.select(CallParticipant.id, CallParticipant.call_sid).where(
        (CallParticipant.call == call["id"]) & (CallParticipant.role != "customer")
        & CallParticipant.status.is_in(["ringing", "joined"]))
    if not legs:
        return
    config = await config_service.require()
    for leg in legs:
        try:
            await client.call(config, lambda c, sid=leg["call_sid"]: c.calls(sid).update(status="completed"))
        except client.TwilioUnavailable as exc:
            if "twilio_code" not in exc.extra:
                raise  # Twilio not reachable: the job is retried
        await CallParticipant.update({CallParticipant.status: "left", CallParticipant.updated_at: now()}).where(
            CallParticipant.id == leg["id"])


async def emit_updated(call: dict[str, Any]) -> None:
    """Consoles re-render the call's item (state, hold, end); only calls that are in a conversation are shown."""
    if call["conversation"] is None:
        return
    topics = [channels.queue()] + ([channels.user(call["operator"])] if call["operator"] else [])
    # The row, not `call` (callers pass the row as it was before their change): hold time is counted from this.
    on_hold = await Call.select(Call.on_hold).where(Call.id == call["id"]).first()
    await emit(CALL_UPDATED, conversation_id=call["conversation"], call_id=call["id"],
               on_hold=bool(on_hold and on_hold["on_hold"]), channels=topics)


async def finish(call: dict[str, Any]) -> None:
    """The call is over: settle the conversation and put the outcome on the timeline."""
    outcome = call["outcome"]
    if not outcome:
        if call["status"] == "completed" and (call["answered_at"] or call["direction"] != "inbound"):
            outcome = "answered"
        elif call["direction"] == "inbound" and call["status"] == "completed" and await callback_asked(call["sid"]):
            outcome = "callback"  # hung up to be called back: the queue item keeps its place (telephony.callbacks)
        elif call["direction"] == "inbound" and call["status"] == "completed":
            outcome = "abandoned"
        else:
            outcome = "missed"
        await _update(call["id"], outcome=outcome)
    if call["conversation"] is not None:
        conv = await conversations.get(call["conversation"])
        if conv["status"] == "waiting" and outcome == "abandoned":
            await Conversation.update({Conversation.status: "closed", Conversation.closed_at: now(),
                                       Conversation.ended_at: now(), Conversation.wrapup_code: "abandoned"}).where(
                Conversation.id == conv["id"])
            await emit(queue_events.QUEUE_ITEM_REMOVED, **queue_events.about(await conversations.get(conv["id"])))
        elif conv["status"] == "active" and conv["ended_at"] is None:
            await Conversation.update({Conversation.ended_at: now()}).where(Conversation.id == conv["id"])
    if call["contact"] is None:
        return
    wait = talk = None
    if call["answered_at"] is not None:
        wait = int((call["answered_at"] - call["created_at"]).total_seconds())
    if outcome == "answered" and call["answered_at"] is not None:
        talk = max(0, int((call["ended_at"] - call["answered_at"]).total_seconds()))
        if call["direction"] == "inbound" and call["duration"] is not None and wait is not None:
            # Twilio's CallDuration of the caller's leg is the authority: the talk is what followed the wait.
            talk = max(talk, call["duration"] - wait)
    summary = {"answered": N_("Call with %(caller)s ended after %(seconds)s s") if call["direction"] == "inbound"
               else N_("Call to %(caller)s ended after %(seconds)s s"),
               "abandoned": N_("Caller %(caller)s hung up while waiting"),
               "callback": N_("Caller %(caller)s hung up to be called back"),
               "voicemail": N_("Call from %(caller)s: voicemail left"),
               "missed": N_("Call %(caller)s: %(status)s")}.get(outcome, N_("Call %(status)s"))
    await timeline.record(call["contact"], "call", "in" if call["direction"] == "inbound" else "out", summary,
                          params={"caller": _label(call), "seconds": call["duration"] or 0, "status": call["status"]},
                          links={"call_id": call["id"], "conversation_id": call["conversation"]},
                          payload={"event": "ended", "call_sid": call["sid"], "status": call["status"],
                                   "outcome": outcome, "duration": call["duration"], "wait_seconds": wait,
                                   "talk_seconds": talk, "operator_id": call["operator"]})


async def on_dial(p: dict[str, str], meta: dict[str, Any]) -> None:
    call = await ensure_call(p)
    status = p.get("DialCallStatus", "")
    if status in ("completed", "answered"):
        talk = int(p["DialCallDuration"]) if p.get("DialCallDuration", "").isdigit() else 0
        await _update(call["id"], outcome="answered", answered_at=now() - dt.timedelta(seconds=talk))


async def on_enqueue_leave(p: dict[str, str], meta: dict[str, Any]) -> None:
    await ensure_call(p)  # the voicemail action that follows records the outcome


async def on_voicemail(p: dict[str, str], meta: dict[str, Any]) -> None:
    """The caller left a message: it becomes a callback task waiting in the queue."""
    call = await ensure_call(p)
    seconds = int(p["RecordingDuration"]) if p.get("RecordingDuration", "").isdigit() else 0
    await _update(call["id"], outcome="voicemail")
    subject = f"Callback: voicemail from {_label(call)}"
    if call["conversation"] is None:
        row = await conversations.open_conversation(channel="call", queue_key=call["queue_key"] or "general",
                                                    contact_id=call["contact"], subject=subject,
                                                    from_address=call["from_number"], external_ref=call["sid"])
        await _update(call["id"], conversation=row["id"])
    else:
        await Conversation.update({Conversation.subject: subject, Conversation.status: "waiting",
                                   Conversation.assigned_to: None, Conversation.taken_at: None}).where(
            Conversation.id == call["conversation"])
        await emit(queue_events.QUEUE_ITEM_ADDED, **queue_events.about(await conversations.get(call["conversation"])))
    if call["contact"] is not None:
        await timeline.record(call["contact"], "call", "in", "Voicemail from %(caller)s (%(seconds)s s)",
                              params={"caller": _label(call), "seconds": seconds},
                              links={"call_id": call["id"], "conversation_id": call["conversation"]},
                              actor_type="customer", payload={"event": "voicemail", "call_sid": call["sid"],
                                                              "recording_sid": p.get("RecordingSid", ""),
                                                              "duration": seconds})


async def on_recording(p: dict[str, str], meta: dict[str, Any]) -> None:
    """Copy a finished recording into our storage (with the account's credentials) and put it on the timeline."""
    conn = _conn()
    # A conference's recording names the ConferenceSid, not a CallSid: the call whose conference it is.
    call = await conn.fetchrow(
        "SELECT * FROM twilio_call WHERE (sid = $1 AND $1 <> '') OR (conference_sid = $2 AND $2 <> '') OR id = "
        "(SELECT call FROM call_participant WHERE conference_sid = $2 AND $2 <> '' LIMIT 1) ORDER BY id LIMIT 1 "
        "FOR UPDATE", p.get("CallSid", ""), p.get("ConferenceSid", ""))
    if call is None:
        raise NotReady(f"recording {p['RecordingSid']} for call {p.get('CallSid') or p.get('ConferenceSid')} that is "
                       "not known yet")
    status = p["RecordingStatus"]
    if status == "in-progress":  # the console's recording dot
        if call["recording_status"] != "completed":
            await _update(call["id"], recording_status="in-progress")
            await emit_updated(dict(call))
        return
    seconds = int(p["RecordingDuration"]) if p.get("RecordingDuration", "").lstrip("-").isdigit() else None
    voicemail = p.get("RecordingSource") == "RecordVerb"
    if status != "completed":
        await _update(call["id"], recording_sid=p["RecordingSid"], recording_status=status)
        if call["contact"] is not None:
            await timeline.record(call["contact"], "call", "internal",
                                  "Voicemail recording %(status)s: nothing was saved" if voicemail
                                  else "Call recording %(status)s: nothing was saved", params={"status": status},
                                  links={"call_id": call["id"]}, payload={"event": "recording", "status": status,
                                                                          "error_code": p.get("ErrorCode", "")})
        return
    config = await config_service.require()
    # Twilio serves RecordingUrl as WAV (no extension, .wav) or MP3 (.mp3); MP3 is a quarter of the size of its
    # 8 kHz 16-bit WAV and plays in every browser, so that is the copy we keep.
    body, _ = await client.download(config, p["RecordingUrl"] + ".mp3")

    async def chunks() -> Any:
        yield body

    key = await get_storage().put(chunks(), namespace="recordings")
    await _update(call["id"], recording_sid=p["RecordingSid"], recording_status="completed",
                  recording_duration=seconds, recording_key=key)
    if call["contact"] is not None:
        await timeline.record(call["contact"], "call", "internal", "Voicemail recording (%(seconds)s s)" if voicemail
                              else "Call recording (%(seconds)s s)", params={"seconds": seconds or 0},
                              links={"call_id": call["id"], "conversation_id": call["conversation"]},
                              payload={"event": "recording", "status": "completed", "duration": seconds,
                                       "url": f"/t/{current_tenant().slug}/api/v1/calls/{call['id']}/recording"})
        await emit(contact_events.INTERACTION_UPDATED, contact_id=call["contact"], call_id=call["id"])


# -- console actions --------------------------------------------------------------------------------------------

async def by_conversation(conversation_id: int) -> dict[str, Any]:
    call = await Call.select().where(Call.conversation == conversation_id).order_by(Call.id, ascending=False).first()
    if call is None:
        raise NotFound("Conversation %(conversation_id)s is not a phone call.", conversation_id=conversation_id)
    return call


async def get(call_id: int) -> dict[str, Any]:
    call = await Call.select().where(Call.id == call_id).first()
    if call is None:
        raise NotFound("No call %(call_id)s.", call_id=call_id)
    return call


def audio_type(head: bytes) -> str:
    """The media type of stored recording bytes: MP3 (ID3 tag or an MPEG audio frame) or WAV (copies kept before we
    switched to MP3); anything else is only offered as a download."""
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    return "application/octet-stream"


async def recording_media(call_id: int) -> tuple[bytes, str]:
    """The call's recording from our storage, with its media type."""
    call = await get(call_id)
    if not call["recording_key"]:
        raise NotFound("This call has no recording.")
    try:
        body = await get_storage().read_all(call["recording_key"])
    except ObjectNotFound:
        raise NotFound("The recording file is missing.") from None
    return body, audio_type(body[:12])


async def click_to_call(actor: Principal, contact_id: int, number: str | None) -> dict[str, Any]:
    """A call as a Twilio Conference, like an inbound one: the operator's device rings first and, once answered,
    starts the call's conference; their join (the conference callback) adds the customer from the shop's number
    (conference.on_conference). The call has its conversation at once, active and the operator's, so the console's
    and the workspace's call controls work on it as on an inbound call."""
    card = await contacts.get(contact_id)
    to = await contacts.number_to_reach(card, number)
    return await dial_out(actor, contact_id, to)


async def dial_out(actor: Principal, contact_id: int | None, to: str, *,
                   conversation_id: int | None = None) -> dict[str, Any]:
    """Ring the operator's device, then (once they are in the call's conference) `to`: click-to-call, and a
    callback (telephony.callbacks) into the conversation it was asked from (`conversation_id`, taken already)."""
    config = await config_service.require()
    device = await config_service.device_of(actor.user_id)
    urls = twiml.Urls(current_tenant().slug)
    name = f"sb-out-{secrets.token_hex(6)}"
    answer = twiml.click_to_call(config, urls, name, actor.user_id)
    # The operator's leg reports only its end (participant-status, like a teammate's leg): the call's status is the
    # customer's leg, whose sid becomes the call's once they are added.
    created = await client.call(config, lambda c: c.calls.create(
        to=device["address"], from_=config.numbers[0], twiml=answer, status_callback=urls.participant_status,
        status_callback_event=["completed"], status_callback_method="POST"))
    if conversation_id is None:
        assert contact_id is not None
        conv = await conversations.open_outbound(actor, channel="call", contact_id=contact_id, to_address=to,
                                                 subject=f"Call to {pretty_phone(to)}", external_ref=created.sid)
        conversation_id = conv["id"]
    rows = await Call.insert(Call(sid=created.sid, direction="outbound-api", from_number=config.numbers[0],
                                  to_number=to, status="queued", contact=contact_id, operator=actor.user_id,
                                  conversation=conversation_id, conference_name=name)).returning(Call.id)
    await CallParticipant.insert(CallParticipant(call=rows[0]["id"], call_sid=created.sid, role="operator",
                                                 user=actor.user_id, status="ringing", created_at=now(),
                                                 updated_at=now()))
    if contact_id is not None:
        await timeline.record(contact_id, "call", "out", "%(name)s called %(phone)s",
                              params={"name": actor.name or actor.email, "phone": pretty_phone(to)},
                              links={"call_id": rows[0]["id"], "conversation_id": conversation_id}, actor_type="user",
                              actor_id=actor.user_id, actor_label=actor.label,
                              payload={"event": "dialing", "call_sid": created.sid})
    return await get(rows[0]["id"])


async def _move_to_contact(source: int, target: int) -> int:
    """Merge step: the merged-away contact's calls and SMS become the survivor's."""
    conn = _conn()
    calls = await conn.fetch("UPDATE twilio_call SET contact = $2 WHERE contact = $1 RETURNING id", source, target)
    texts = await conn.fetch("UPDATE sms_message SET contact = $2 WHERE contact = $1 RETURNING id", source, target)
    return len(calls) + len(texts)


MERGE_STEP = MergeStep("telephony", _move_to_contact, tables=("twilio_call", "sms_message"))
