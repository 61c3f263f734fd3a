"""Reports events: the reporting facts of a conversation changed (the wallboard redraws its service level and
abandons, which it reads from those facts)."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class FactsPayload(msgspec.Struct):
    queue_id: int
    """A queue whose figures (queue visits: offered, answered, abandoned, waits) changed."""


def _console(data: dict[str, Any]) -> list[str]:
    return [channels.queue()]


FACTS_CHANGED = EventType("reports.facts_changed", "The reporting facts of a queue changed: a visit was offered, "
                          "answered, abandoned or its wait moved (queue_id). Emitted by the reports listener after "
                          "it wrote them.", FactsPayload, _console)
declare(FACTS_CHANGED)
