"""Queue events: every console of the tenant hears them; the operator concerned also on their own channel."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class QueuePayload(msgspec.Struct):
    conversation_id: int
    queue_id: int | None
    contact_id: int
    """0 when the conversation has no contact yet."""
    user_id: int | None = None
    """On queue.item_taken from the API: the operator who took it."""


QUEUE_ITEM_ADDED = EventType("queue.item_added", "An interaction is waiting in a queue (interaction_id, queue_id).",
                             QueuePayload)
QUEUE_ITEM_TAKEN = EventType("queue.item_taken", "An operator took a waiting interaction (interaction_id, queue_id, "
                             "user_id).", QueuePayload)
QUEUE_ITEM_REMOVED = EventType("queue.item_removed", "A waiting interaction left the queue untaken: abandoned "
                               "(interaction_id, queue_id).", QueuePayload)
declare(QUEUE_ITEM_ADDED, QUEUE_ITEM_TAKEN, QUEUE_ITEM_REMOVED)


def about(row: dict[str, Any], before: dict[str, Any] | None = None) -> dict[str, Any]:
    """The event's payload and topics for a conversation row: `emit(QUEUE_ITEM_ADDED, **about(row))`. The topics
    depend on the row (its operator), not only on the payload; with `before` (the row before a change of hands),
    the operator who had it hears it too: it leaves their list (their console re-renders "mine" only then)."""
    topics = [channels.queue()]
    if row.get("assigned_to_id"):
        topics.append(channels.user(row["assigned_to_id"]))
    if before and before.get("assigned_to_id") and before["assigned_to_id"] != row.get("assigned_to_id"):
        topics.append(channels.user(before["assigned_to_id"]))
    if row.get("contact_id"):
        topics.append(channels.contact(row["contact_id"]))
    return {"conversation_id": row["id"], "queue_id": row["queue_id"], "contact_id": row.get("contact_id") or 0,
            "channels": topics}


# -- conversation actions (app/conversations/actions.py) ---------------------------------------------------------

class ActionPayload(msgspec.Struct):
    conversation_id: int
    queue_id: int | None
    contact_id: int
    """0 when the conversation has no contact yet."""
    user_id: int | None = None
    """Who it is assigned to now (conversation.assigned), else who acted."""
    reason: str | None = None
    """On conversation.reopened: `reopened`, `snooze_ended` or `customer_wrote`; on conversation.closed:
    `closed`, `merged` or `blocked`."""
    until: str | None = None
    """On conversation.snoozed: when it comes back (ISO 8601, UTC)."""
    merged_id: int | None = None
    """On conversation.merged: the conversation merged into this one (now closed)."""


class BlockPayload(msgspec.Struct):
    blocked_id: int
    address: str
    user_id: int | None = None


def _queue_only(data: dict[str, Any]) -> list[str]:
    return [channels.queue()]


CONVERSATION_ASSIGNED = EventType("conversation.assigned", "A conversation was assigned to a colleague or moved to "
                                  "another queue (conversation_id, queue_id, user_id).", ActionPayload)
CONVERSATION_SNOOZED = EventType("conversation.snoozed", "A conversation was snoozed until a time (conversation_id, "
                                 "until).", ActionPayload)
CONVERSATION_REOPENED = EventType("conversation.reopened", "A closed or snoozed conversation is back in its queue or "
                                  "with its operator (conversation_id, reason).", ActionPayload)
CONVERSATION_CLOSED = EventType("conversation.closed", "A conversation was closed without a wrap-up, merged away or "
                                "closed as spam (conversation_id, reason).", ActionPayload)
CONVERSATION_MERGED = EventType("conversation.merged", "Another conversation of the same client was merged into this "
                                "one (conversation_id, merged_id).", ActionPayload)
ADDRESS_BLOCKED = EventType("address.blocked", "A phone number or e-mail address was blocked as spam (blocked_id, "
                            "address).", BlockPayload, _queue_only)
ADDRESS_UNBLOCKED = EventType("address.unblocked", "A blocked address was unblocked (blocked_id, address).",
                              BlockPayload, _queue_only)
declare(CONVERSATION_ASSIGNED, CONVERSATION_SNOOZED, CONVERSATION_REOPENED, CONVERSATION_CLOSED, CONVERSATION_MERGED,
        ADDRESS_BLOCKED, ADDRESS_UNBLOCKED)
