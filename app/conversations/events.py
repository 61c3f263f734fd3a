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


def about(row: dict[str, Any]) -> dict[str, Any]:
    """The event's payload and topics for a conversation row: `emit(QUEUE_ITEM_ADDED, **about(row))`. The topics
    depend on the row (its operator), not only on the payload."""
    topics = [channels.queue()]
    if row.get("assigned_to_id"):
        topics.append(channels.user(row["assigned_to_id"]))
    if row.get("contact_id"):
        topics.append(channels.contact(row["contact_id"]))
    return {"conversation_id": row["id"], "queue_id": row["queue_id"], "contact_id": row.get("contact_id") or 0,
            "channels": topics}
