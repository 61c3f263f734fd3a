"""Business-hours events: every console of the tenant hears when a queue opens or closes (by its calendar, or
because an admin changed it), so the queue panel's "closed until ..." badge follows without a reload."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class QueueHoursPayload(msgspec.Struct):
    queue_id: int
    open: bool
    """Whether the queue is open now (after the change)."""
    opens_at: str | None = None
    """When closed: the next opening (ISO 8601, UTC; absent when it never opens again)."""


def consoles(data: dict[str, Any]) -> list[str]:
    return [channels.queue()]


QUEUE_HOURS_CHANGED = EventType("queue.hours_changed", "A queue opened or closed by its business hours, or an admin "
                                "changed its calendar (queue_id, open).", QueueHoursPayload, consoles)
declare(QUEUE_HOURS_CHANGED)
