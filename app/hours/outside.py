"""Outside business hours: a chat or email that arrives while its queue's calendar is closed gets one automatic reply
per conversation and closed period, in the customer's language, and still waits in the queue.

A durable listener (the worker runs it per tenant) on the inbound message events: it reacts after the message is
committed, whatever channel stored it, and the reply goes out through the channel's own `notice` (app/channels.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog

from app import channels
from app.contacts import services as contacts
from app.conversations.tables import Conversation
from app.hours import services
from app.hours.tables import QueueHours
from app.lib import i18n
from app.lib.clock import now
from app.lib.db import current_uow
from app.lib.errors import DomainError
from app.lib.i18n import N_
from app.timeline import services as timeline
from realtime.durable import DurableListener
from realtime.events import Event

log = structlog.get_logger(__name__)

REPLY = N_("Thank you for your message. We are closed right now and open again %(opens)s. Your message is in our "
           "queue, and we will answer it then.")
REPLY_NO_OPENING = N_("Thank you for your message. We are closed right now. Your message is in our queue, and we "
                      "will answer it as soon as we can.")
OPENS_FORMAT = "EEEE d MMMM, HH:mm"
"""How the reply names the next opening (Babel pattern, in the customer's language and the calendar's zone)."""
SOON = dt.timedelta(hours=20)
"""A queue that opens within this long shows the time only on the console's badge ("closed until 09:00")."""
OPENS_MARK = "{opens}"
"""Where the shop's own reply text names the next opening."""


async def on_inbound(event: Event) -> None:
    """Answer an inbound chat or email once per closed period of its queue."""
    data = event.data
    if event.name == "chat.message" and data.get("direction") != "in":
        return
    conversation_id = data.get("conversation_id")
    if not conversation_id:
        return
    conv = await Conversation.select(Conversation.id, Conversation.channel, Conversation.queue,
                                     Conversation.contact, Conversation.status).where(
        Conversation.id == conversation_id).first()
    if conv is None or conv["status"] == "closed" or conv["channel"] not in channels.KEYS:
        return
    notice = channels.get(conv["channel"]).notice
    hours = await services.hours_for_queue(conv["queue"])
    if notice is None or hours is None or hours.is_open(event.at):
        return
    reopens = hours.next_open(event.at)
    conn = current_uow().connection
    first = await conn.fetchval("INSERT INTO hours_auto_reply (conversation, reopens_at) VALUES ($1, $2) "
                                "ON CONFLICT DO NOTHING RETURNING id", conversation_id, reopens)
    if first is None:
        return  # answered already in this closed period
    setting = await QueueHours.select(QueueHours.auto_reply).where(QueueHours.queue == conv["queue"]).first()
    language = await contacts.language_of(conv["contact"])
    with i18n.viewing(language or None, hours.zone):
        opens = i18n.format_datetime(reopens, OPENS_FORMAT) if reopens else ""
        own = (setting or {}).get("auto_reply") or ""
        if own:
            body = own.replace(OPENS_MARK, opens)
        elif reopens is not None:
            body = i18n.gettext(REPLY, opens=opens)
        else:
            body = i18n.gettext(REPLY_NO_OPENING)
    try:
        async with current_uow().savepoint():
            sent = await notice(conversation_id, body)
    except DomainError as exc:  # e.g. no email account yet: nothing can be sent, the item still waits
        log.warning("hours.auto_reply_not_sent", conversation_id=conversation_id, error=exc.message)
        return
    if conv["contact"] is not None:
        await timeline.record(conv["contact"], "system", "internal",
                              "Automatic reply sent outside business hours (open again %(opens)s)" if reopens
                              else "Automatic reply sent outside business hours",
                              params={"opens": _staff_time(reopens, hours.zone)} if reopens else {},
                              links={"conversation_id": conversation_id},
                              payload=_payload(conv, reopens, sent, language))


def _staff_time(moment: Any, zone: Any) -> str:
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {zone.key}"


def _payload(conv: dict[str, Any], reopens: Any, sent: dict[str, Any], language: str) -> dict[str, Any]:
    return {"event": "auto_reply", "channel": conv["channel"], "queue_id": conv["queue"],
            "reopens_at": reopens.isoformat() if reopens else None, "message_id": sent.get("id"),
            "language": language}


AUTO_REPLY = DurableListener(
    "hours.auto_reply", on_inbound, frozenset({"message.received", "chat.message"}),
    "Answers a chat or email that arrives while its queue is closed, once per conversation and closed period, in "
    "the customer's language; the item still waits in the queue.")


async def console_closed(ctx: dict[str, Any]) -> dict[str, Any]:
    """The console's queue panel marks the queues that are closed now ("closed until 09:00"): `closed_queues` maps
    a queue key to its next opening (None: not again), `closed_soon` the keys that open within a day (time only)."""
    queues = {q["id"]: q["key"] for q in ctx.get("queues", [])}
    moment = now()
    closed = await services.closed_queues(queues, moment)
    return {"closed_queues": {queues[qid]: opens for qid, opens in closed.items()},
            "closed_soon": {queues[qid] for qid, opens in closed.items()
                            if opens is not None and opens - moment < SOON}}
