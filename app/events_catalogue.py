"""The event catalogue, assembled in one place: importing this module imports every domain's declarations
(each domain's `events.py` registers its EventTypes with realtime.events.declare)."""

from __future__ import annotations

from app.chat import events as chat_events
from app.contacts import events as contact_events
from app.conversations import events as conversation_events
from app.conversations import message_events
from app.deals import events as deal_events
from app.orders import events as order_events
from realtime import events as realtime_events
from realtime.events import CATALOGUE, EventType
from telephony import events as call_events

DOMAINS = (realtime_events, contact_events, conversation_events, order_events, deal_events, message_events,
           chat_events, call_events)


def catalogue() -> list[EventType]:
    """Every declared event, by name."""
    return [CATALOGUE[name] for name in sorted(CATALOGUE)]
