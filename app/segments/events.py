"""Segment events: a segment or a static list's members changed (the builder's and lists' pages refresh)."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class SegmentPayload(msgspec.Struct):
    segment_id: int


def supervisors(data: dict[str, Any]) -> list[str]:
    """Who sees the segment pages (supervisors and up: their sockets hear their role and the ones below)."""
    return [channels.role("supervisor")]


SEGMENT_CHANGED = EventType("segment.changed", "A segment was created, changed or deleted, or a static list's members "
                            "changed (segment_id).", SegmentPayload, supervisors)

declare(SEGMENT_CHANGED)
