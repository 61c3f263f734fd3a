"""SLA events: a clock reached its warning share or its due time (for supervisors' consoles and automation), and
a clock started, was met, paused or resumed (the consoles redraw the item's badge)."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class SlaPayload(msgspec.Struct):
    conversation_id: int
    metric: str
    """first_response, next_response or resolution."""
    due_at: str
    """When the target is (was) due, ISO 8601 UTC."""
    clock_id: int
    queue_id: int | None = None


class ClocksPayload(msgspec.Struct):
    conversation_id: int
    queue_id: int | None = None


def _console(data: dict[str, Any]) -> list[str]:
    return [channels.queue()]


SLA_WARNING = EventType("sla.warning", "An SLA clock reached its warning share of the target (conversation_id, "
                        "metric, due_at).", SlaPayload, _console)
SLA_BREACHED = EventType("sla.breached", "An SLA target was missed: its due time passed unmet (conversation_id, "
                         "metric, due_at).", SlaPayload, _console)
SLA_CLOCKS_CHANGED = EventType("sla.clocks_changed", "A conversation's SLA clocks started, were met, paused, resumed "
                               "or stopped (conversation_id).", ClocksPayload, _console)
declare(SLA_WARNING, SLA_BREACHED, SLA_CLOCKS_CHANGED)
