"""Routing events: an offer made to an agent, and closed (accepted, rejected, timed out, withdrawn); an agent set
away for missing offers; an item moved to its overflow queue. Offers go to the agent's own channel and to
supervisors' consoles through the queue channel."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class OfferPayload(msgspec.Struct):
    offer_id: int
    conversation_id: int
    queue_id: int
    user_id: int
    status: str
    """pending (on routing.offered), else how it closed: accepted | rejected | timeout | withdrawn."""
    expires_at: str | None = None
    """ISO 8601 UTC, on routing.offered."""
    reason: str | None = None


class AwayPayload(msgspec.Struct):
    user_id: int
    misses: int


class OverflowPayload(msgspec.Struct):
    conversation_id: int
    queue_id: int
    """The queue it left."""
    to_queue_id: int
    reason: str
    """`no_agent` (nobody eligible for the queue's overflow time) or `closed` (outside the queue's hours)."""


def _agent(data: dict[str, Any]) -> list[str]:
    return [channels.user(int(data["user_id"]))]


def _agent_and_queue(data: dict[str, Any]) -> list[str]:
    return [channels.user(int(data["user_id"])), channels.queue()]


ROUTING_OFFERED = EventType("routing.offered", "The router offered a waiting item to an agent (offer_id, "
                            "conversation_id, user_id, expires_at).", OfferPayload, _agent_and_queue)
ROUTING_OFFER_CLOSED = EventType("routing.offer_closed", "An offer was accepted, rejected, let time out or withdrawn "
                                 "(offer_id, conversation_id, user_id, status).", OfferPayload, _agent_and_queue)
ROUTING_MISSED_AWAY = EventType("routing.missed_away", "An agent let offers time out in a row and was set away "
                                "(user_id, misses).", AwayPayload, _agent)
ROUTING_OVERFLOWED = EventType("routing.overflowed", "A waiting item moved to its queue's overflow queue "
                               "(conversation_id, queue_id, to_queue_id, reason).", OverflowPayload,
                               lambda data: [channels.queue()])
declare(ROUTING_OFFERED, ROUTING_OFFER_CLOSED, ROUTING_MISSED_AWAY, ROUTING_OVERFLOWED)
