"""Message events (email, SMS, web chat, portal messages): on the contact's card, plus whatever the caller adds
(the order's channel for portal messages, the consoles for new conversations)."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class MessagePayload(msgspec.Struct):
    message_id: int
    contact_id: int
    order_id: int | None = None
    conversation_id: int | None = None
    channel: str | None = None
    """`email`, `sms`... when the message table does not say it."""
    status: str | None = None
    """On message.status_changed: queued, sent, delivered, failed..."""


def card(data: dict[str, Any]) -> list[str]:
    return [channels.contact(data["contact_id"])]


MESSAGE_RECEIVED = EventType("message.received", "An inbound SMS, email or chat message arrived (message_id, "
                             "contact_id).", MessagePayload, card)
MESSAGE_SENT = EventType("message.sent", "An outbound message was sent (message_id, contact_id).", MessagePayload,
                         card)
MESSAGE_STATUS_CHANGED = EventType("message.status_changed", "Delivery status of an outbound message changed "
                                   "(message_id, contact_id).", MessagePayload, card)
declare(MESSAGE_RECEIVED, MESSAGE_SENT, MESSAGE_STATUS_CHANGED)
