"""Callback, keep my place: a caller waiting in a queue presses a digit, hangs up, and is called back from the same
queue item, which keeps its place (its created_at) among the waiting ones.

The hold loop offers it (twiml.wait, when the shop turned it on); the digit's webhook is stored with its job
(webhook_api.callback) and the caller leaves the queue. The job marks the conversation (callback_number,
callback_requested_at) and texts the customer; the call's end is then no abandonment (calls.finish asks
calls.callback_asked). Taking the item dials the customer: the operator's device first, then the customer into the
call's conference (calls.dial_out, as click-to-call). A supervisor can cancel a callback.

Outside a queue's hours, when the queue offers callbacks (app.hours, outside_hours_call), the closed greeting offers
the same digit (twiml.closed_offer, webhook_api.closed_callback): its job opens the call's item in that queue, marked
the same way, and the caller hangs up instead of leaving a voicemail."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal
from app.audit import services as audit
from app.contacts import services as contacts
from app.conversations import events as queue_events
from app.conversations import services as conversations
from app.conversations.tables import Conversation
from app.lib import i18n
from app.lib.clock import now
from app.lib.db import current_uow
from app.lib.errors import DomainError, Forbidden, Invalid, NotFound
from app.lib.i18n import N_
from app.lib.identities import pretty_phone
from app.timeline import services as timeline
from realtime import channels
from realtime.publish import emit
from telephony import calls, sms
from telephony.calls import NotReady, emit_updated, ensure_call
from telephony.config import Config
from telephony.events import CALLBACK_CANCELLED, CALLBACK_REQUESTED

SMS_TEXT = N_("%(shop)s: we will call you back on %(number)s. You keep your place in line (number %(position)s).")


def may_offer(config: Config, p: dict[str, str]) -> bool:
    """Offered when the shop turned it on and the caller has a number to call back (not withheld, not a browser)."""
    return config.offer_callback and p.get("From", "").startswith("+")


def _conn() -> Any:
    return current_uow().connection


async def known_call(sid: str) -> bool:
    """A call this shop's number received (its voice webhook is stored here): a digit for any other CallSid, e.g.
    signed with another tenant's token, marks nothing."""
    return bool(await _conn().fetchval("SELECT 1 FROM twilio_webhook WHERE kind = 'voice' AND sid = $1 LIMIT 1",
                                       sid[:64]))


async def position(conversation: dict[str, Any]) -> int:
    """The item's place among the waiting items of its queue, in the console's order (oldest first): 1 is next."""
    ahead = await _conn().fetchval(
        "SELECT count(*) FROM conversation WHERE queue = $1 AND status = 'waiting' AND (created_at, id) < ($2, $3)",
        conversation["queue_id"], conversation["created_at"], conversation["id"])
    return int(ahead) + 1


async def waiting_for(contact_id: int) -> dict[str, Any] | None:
    """The contact's callback still waiting, with its place in line (the portal's line), or None."""
    row = await Conversation.select(Conversation.id).where(
        (Conversation.contact == contact_id) & (Conversation.status == "waiting")
        & Conversation.callback_requested_at.is_not_null()).order_by(Conversation.created_at).first()
    if row is None:
        return None
    conv = await conversations.get(row["id"])
    return {"conversation_id": conv["id"], "position": await position(conv), "number": conv["callback_number"]}


async def waiting_contacts(queue_id: int | None = None) -> list[int]:
    """Contacts with a callback waiting (in one queue, when given): whose portal line a queue change may move."""
    query = Conversation.select(Conversation.contact).where(
        (Conversation.status == "waiting") & Conversation.callback_requested_at.is_not_null()
        & Conversation.contact.is_not_null())
    if queue_id is not None:
        query = query.where(Conversation.queue == queue_id)
    return sorted({r["contact"] for r in await query})


# -- the digit's job ---------------------------------------------------------------------------------------------

async def on_request(p: dict[str, str], meta: dict[str, Any]) -> None:
    """The caller pressed the callback digit: their queue item stays where it is, marked as a callback, and they get
    an SMS. Idempotent: a marked item is left alone; an item an operator took meanwhile needs no callback."""
    call = await ensure_call(p)
    closed = meta.get("route") == "closed"  # asked from the closed greeting: the item opens in that queue now
    if call["conversation"] is None and closed:
        await calls.queue_call(p, meta["queue"])
        call = await ensure_call(p)
    if call["conversation"] is None:
        raise NotReady(f"callback for call {call['sid']} whose queue item is not open yet")
    conv = await conversations.get(call["conversation"])
    if conv["callback_requested_at"] is not None:
        return
    if conv["status"] != "waiting":  # an operator took the call as the caller pressed 1: say so, nothing is queued
        if conv["contact_id"] is not None:
            await timeline.record(conv["contact_id"], "call", "in",
                                  "%(caller)s asked to be called back as the call was being taken",
                                  params={"caller": pretty_phone(call["from_number"])}, actor_type="customer",
                                  links={"call_id": call["id"], "conversation_id": conv["id"]},
                                  payload={"event": "callback_too_late", "call_sid": call["sid"]})
        return
    number = call["from_number"]
    await Conversation.update({Conversation.callback_number: number[:30],
                               Conversation.callback_requested_at: now()}).where(Conversation.id == conv["id"])
    conv = await conversations.get(conv["id"])
    place = await position(conv)
    await emit_updated(call)  # the consoles show the item as a callback
    await emit(CALLBACK_REQUESTED, conversation_id=conv["id"], queue_id=conv["queue_id"],
               contact_id=conv["contact_id"] or 0, channels=_topics(conv))
    if conv["contact_id"] is None:
        return
    await timeline.record(conv["contact_id"], "call", "in",
                          "%(caller)s called while we were closed and asked to be called back (number %(position)s)"
                          if closed else
                          "%(caller)s asked to be called back, keeping their place (number %(position)s)",
                          params={"caller": pretty_phone(number), "position": place}, actor_type="customer",
                          links={"call_id": call["id"], "conversation_id": conv["id"]},
                          payload={"event": "callback_requested", "call_sid": call["sid"], "number": number,
                                   "outside_hours": closed})
    await _confirm(conv, number, place)


async def _confirm(conv: dict[str, Any], number: str, place: int) -> None:
    """The SMS in the contact's language. A refusal a retry cannot fix (a number Twilio will not text) goes on the
    timeline; the callback stands. Twilio unreachable: the job is retried (and the marking with it)."""
    shop = await _conn().fetchval("SELECT display_name FROM workspace LIMIT 1") or ""
    with i18n.viewing(await contacts.language_of(conv["contact_id"]) or None):
        body = i18n.gettext(SMS_TEXT, shop=shop, number=pretty_phone(number), position=place)
    try:
        async with _conn().transaction():  # a savepoint: a refusal leaves nothing half-written
            await sms.send(None, conv["contact_id"], body, number,
                           links={"conversation_id": conv["id"]},
                           extra={"callback": True, "conversation_id": conv["id"]})
    except DomainError as exc:
        if exc.status_code >= 500:
            raise
        await timeline.record(conv["contact_id"], "sms", "out",
                              "Callback confirmation SMS to %(to)s not sent: %(reason)s",
                              params={"to": pretty_phone(number), "reason": exc.detail},
                              links={"conversation_id": conv["id"]},
                              payload={"event": "callback_sms_failed", "reason": exc.detail})


def _topics(conv: dict[str, Any]) -> list[str]:
    return [channels.queue()] + ([channels.contact(conv["contact_id"])] if conv["contact_id"] else [])


# -- operators and supervisors -----------------------------------------------------------------------------------

async def is_callback(conversation_id: int) -> bool:
    conv = await conversations.get(conversation_id)
    return conv["callback_requested_at"] is not None and conv["status"] == "waiting"


async def call_back(actor: Principal, conversation_id: int) -> dict[str, Any]:
    """Take the waiting callback and dial: the operator's device rings, then the customer (click-to-call's path),
    in the same conversation. The caller of this runs it in a savepoint: if Twilio refuses, nothing is taken."""
    conv = await conversations.get(conversation_id)
    if conv["callback_requested_at"] is None:
        raise Invalid("Conversation %(conversation_id)s is not a callback.", field="conversation_id",
                      conversation_id=conversation_id)
    row = await conversations.take(actor, conversation_id)
    call = await calls.dial_out(actor, conv["contact_id"], conv["callback_number"], conversation_id=conversation_id)
    if conv["contact_id"] is not None:
        await timeline.record(conv["contact_id"], "call", "internal", "%(name)s is calling %(caller)s back",
                              params={"name": actor.name or actor.email,
                                      "caller": pretty_phone(conv["callback_number"])},
                              links={"call_id": call["id"], "conversation_id": conversation_id}, actor_type="user",
                              actor_id=actor.user_id, actor_label=actor.label,
                              payload={"event": "callback_dialing", "call_sid": call["sid"]})
    await emit_updated(call)
    return {"conversation": row, "call": call}


async def cancel(actor: Principal, conversation_id: int, reason: str = "") -> dict[str, Any]:
    """A supervisor cancels a waiting callback: the item leaves the queue (closed, code callback-cancelled)."""
    if not actor.has_role("supervisor"):
        raise Forbidden("Only a supervisor can cancel a callback.")
    conv = await conversations.get(conversation_id)
    if conv["queue_id"] not in await conversations.visible_queue_ids(actor):
        raise NotFound("No conversation %(conversation_id)s.", conversation_id=conversation_id)
    if conv["callback_requested_at"] is None:
        raise Invalid("Conversation %(conversation_id)s is not a callback.", field="conversation_id",
                      conversation_id=conversation_id)
    reason = (reason or "").strip()
    if len(reason) > 500:
        raise Invalid("The reason must be at most 500 characters.", field="reason")
    done = await Conversation.update({Conversation.status: "closed", Conversation.closed_at: now(),
                                      Conversation.ended_at: now(), Conversation.wrapup_code: "callback-cancelled",
                                      Conversation.wrapup_note: reason}).where(
        (Conversation.id == conversation_id) & (Conversation.status == "waiting")).returning(Conversation.id)
    if not done:
        raise Invalid("This callback is no longer waiting (%(status)s).", field="conversation_id",
                      status=conv["status"])
    row = await conversations.get(conversation_id)
    await emit(queue_events.QUEUE_ITEM_REMOVED, **queue_events.about(row))
    await emit(CALLBACK_CANCELLED, conversation_id=row["id"], queue_id=row["queue_id"],
               contact_id=row["contact_id"] or 0, channels=_topics(row))
    if row["contact_id"] is not None:
        await timeline.record(row["contact_id"], "call", "internal", "%(name)s cancelled the callback to %(caller)s",
                              params={"name": actor.name or actor.email,
                                      "caller": pretty_phone(row["callback_number"])},
                              links={"conversation_id": row["id"]}, actor_type="user", actor_id=actor.user_id,
                              actor_label=actor.label, payload={"event": "callback_cancelled", "reason": reason})
    await audit.record("callback.cancelled", actor_id=actor.user_id, actor=actor.label, target_type="conversation",
                       target_id=row["id"], detail={"number": row["callback_number"], "reason": reason})
    return row
