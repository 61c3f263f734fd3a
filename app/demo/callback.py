"""The demo's waiting callback: a customer with an open order who pressed 1 in the hold loop a few minutes before the
demo's anchor. The console shows it as a callback in the queue (Call back dials them through the simulator), and
their order's portal says "we will call you back, you are number N"."""

from __future__ import annotations

from typing import Any

from app.conversations.tables import Conversation
from app.demo.seed import Writer
from app.lib.identities import pretty_phone
from app.orders import pipeline
from telephony.tables import Call

ASKED = 5 * 60
"""Seconds before the anchor the caller pressed 1; they had called two minutes earlier."""
CALLED = ASKED + 120


async def write(w: Writer, queue_id: int, queue_key: str, line: str) -> None:
    """One waiting callback, for the first customer (in story order) with a phone and an order not in a final
    status; none when the story has no such customer. Relative to the anchor, so a seed grows the same shop."""
    final = {s["key"] for s in await pipeline.statuses() if s["final"]}
    pick = next((o["contact"] for o in w.story.orders if o["status"] not in final and w.phones[o["contact"]]), None)
    if pick is None:
        return
    phone = w.phones[pick]
    contact_id = w.contact_ids[pick]
    conv_id, call_id = (await w.ids("conversation", 1))[0], (await w.ids("twilio_call", 1))[0]
    sid = f"CA{conv_id:032x}"
    label = pretty_phone(phone)
    subject = f"Call from {label}"  # the conversation's subject, as the queue item of a real call has it
    await Conversation.insert(Conversation(
        id=conv_id, contact=contact_id, channel="call", queue=queue_id, status="waiting",
        subject=subject, from_address=phone, external_ref=sid, created_at=w.at(CALLED),
        callback_number=phone, callback_requested_at=w.at(ASKED)))
    await Call.insert(Call(id=call_id, sid=sid, direction="inbound", from_number=phone, to_number=line,
                           status="completed", last_sequence=3, outcome="callback", conversation=conv_id,
                           contact=contact_id, queue_key=queue_key, created_at=w.at(CALLED), ended_at=w.at(ASKED),
                           duration=CALLED - ASKED))
    links: dict[str, Any] = {"call_id": call_id, "conversation_id": conv_id}
    w.later(CALLED, pick, "call", "in", subject, links={"conversation_id": conv_id},
            actor_type="customer", payload={"queue": queue_key, "event": "queued"})
    w.later(ASKED, pick, "call", "in", "%(caller)s asked to be called back, keeping their place (number %(position)s)",
            params={"caller": label, "position": 1}, links=links, actor_type="customer",
            payload={"event": "callback_requested", "call_sid": sid, "number": phone})
    w.later(ASKED - 1, pick, "call", "in", "Caller %(caller)s hung up to be called back", links=links,
            params={"caller": label, "seconds": CALLED - ASKED, "status": "completed"},
            payload={"event": "ended", "call_sid": sid, "status": "completed", "outcome": "callback",
                     "duration": CALLED - ASKED, "wait_seconds": None, "talk_seconds": None, "operator_id": None})
