"""Segment events: a segment or a static list's members changed (the builder's and lists' pages refresh)."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class SegmentPayload(msgspec.Struct):
    segment_id: int


class TemperaturePayload(msgspec.Struct):
    contact_id: int
    temperature: str | None
    previous: str | None
    manual: bool
    """True when a person set it (it then holds against the rules), False when the rules did."""


def admins(data: dict[str, Any]) -> list[str]:
    return [channels.role("admin")]


def card(data: dict[str, Any]) -> list[str]:
    return [channels.contact(data["contact_id"])]


SEGMENT_CHANGED = EventType("segment.changed", "A segment was created, changed or deleted, or a static list's members "
                            "changed (segment_id).", SegmentPayload, admins)
TEMPERATURE_CHANGED = EventType("contact.temperature_changed", "A contact's temperature moved, by the shop's rules "
                                "or by a person (contact_id, temperature, previous, manual).", TemperaturePayload,
                                card)

declare(SEGMENT_CHANGED, TEMPERATURE_CHANGED)
