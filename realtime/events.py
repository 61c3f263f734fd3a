"""The event envelope and the one registry of event names: every realtime event is declared here."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

# name -> what it announces. Payloads carry ids only; consumers reload what they render.
EVENTS: dict[str, str] = {
    "contact.created": "A contact was created (contact_id).",
    "contact.updated": "A contact's card changed: fields, identities, tags, temperature (contact_id).",
    "contact.merged": "Contacts were merged into one (contact_id survives, merged_id is gone).",
    "contact.deleted": "A contact was deleted (contact_id).",
    "note.added": "A note landed on a contact's timeline (contact_id, note_id).",
    "interaction.created": "An interaction was opened on a timeline (interaction_id, contact_id).",
    "interaction.updated": "An interaction changed status, owner or outcome (interaction_id, contact_id).",
    "queue.item_added": "An interaction is waiting in a queue (interaction_id, queue_id).",
    "queue.item_taken": "An operator took a waiting interaction (interaction_id, queue_id, user_id).",
    "queue.item_removed": "A waiting interaction left the queue untaken: abandoned (interaction_id, queue_id).",
    "call.updated": "A phone call changed: bridged, on hold, resumed, transferred, ended (conversation_id, call_id).",
    "presence.changed": "A user's presence changed: available, busy, away, offline (user_id, status).",
    "user.updated": "A user's role, status or profile changed (user_id).",
    "session.revoked": "A session was ended; its sockets close (user_id, session_id).",
    "order.status_changed": "An order moved to another status (order_id, contact_id, status).",
    "order.created": "An order was created (order_id, contact_id).",
    "order.updated": "An order's items, payments, refunds or portal link changed (order_id, contact_id).",
    "deal.moved": "A deal changed stage or was won or lost (deal_id, contact_id).",
    "message.received": "An inbound SMS, email or chat message arrived (message_id, contact_id).",
    "message.sent": "An outbound message was sent (message_id, contact_id).",
    "message.status_changed": "Delivery status of an outbound message changed (message_id, contact_id).",
    "chat.message": "A web chat message was stored, from the visitor or an operator (session_id, message_id).",
    "chat.typing": "Someone in a web chat is typing: the visitor or the operator (session_id, who).",
    "chat.status": "Web chat messages were delivered or read (session_id, upto, status).",
}

MAX_DATA_BYTES = 2048
_SCALARS = (int, str, bool, type(None))


class UnknownEvent(ValueError):
    """An event name that is not in the registry: add it to realtime.events.EVENTS first."""


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One committed change, as consoles and other listeners receive it."""

    id: int
    """Per-tenant, gap-free, commit-ordered: the replay cursor."""
    name: str
    tenant: str
    at: dt.datetime
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    channels: tuple[str, ...] = ()
    """Tenant-relative topics (`queue`, `user:7`, ...) the event was published on."""


def check_name(name: str) -> str:
    if name not in EVENTS:
        raise UnknownEvent(f"unknown event {name!r}: declare it in realtime.events.EVENTS")
    return name


def check_data(data: dict[str, Any]) -> dict[str, Any]:
    """Payloads are small maps of ids and short codes; anything bigger belongs in the database."""
    for key, value in data.items():
        if not isinstance(key, str):
            raise ValueError(f"event data keys must be strings, got {key!r}")
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, _SCALARS) for v in items):
            raise ValueError(f"event data {key!r} must be ids or short codes, not {type(value).__name__}")
    if len(msgspec.json.encode(data)) > MAX_DATA_BYTES:
        raise ValueError(f"event data is over {MAX_DATA_BYTES} bytes: send ids, consumers reload")
    return data


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Event)


def encode(event: Event) -> bytes:
    return _encoder.encode(event)


def decode(raw: bytes | str) -> Event:
    return _decoder.decode(raw)
