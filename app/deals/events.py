"""Deal events: on the contact's card."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class DealPayload(msgspec.Struct):
    deal_id: int
    contact_id: int
    stage: str | None = None
    """The stage key it moved to (absent when a deal was created)."""


def card(data: dict[str, Any]) -> list[str]:
    return [channels.contact(data["contact_id"])]


DEAL_MOVED = EventType("deal.moved", "A deal changed stage or was won or lost (deal_id, contact_id).", DealPayload,
                       card)
declare(DEAL_MOVED)
