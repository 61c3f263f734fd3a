"""Campaign events: live progress and per-recipient status, for the supervisors' campaign pages."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class ProgressPayload(msgspec.Struct):
    campaign_id: int
    status: str
    """The campaign's status (sending, paused, done, ...)."""


class RecipientPayload(msgspec.Struct):
    campaign_id: int
    recipient_ids: list[int]
    """Recipients whose status changed (one batch of the sender, or one tracking milestone)."""


def supervisors(data: dict[str, Any]) -> list[str]:
    return [channels.role("supervisor")]


CAMPAIGN_PROGRESS = EventType("campaign.progress", "A campaign's counts per status or its own status changed "
                              "(campaign_id, status).", ProgressPayload, supervisors)
CAMPAIGN_RECIPIENT_CHANGED = EventType("campaign.recipient_changed", "Recipients of a campaign changed status "
                                       "(campaign_id, recipient_ids).", RecipientPayload, supervisors)
declare(CAMPAIGN_PROGRESS, CAMPAIGN_RECIPIENT_CHANGED)
