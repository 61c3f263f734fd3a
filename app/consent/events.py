"""Consent events: a ledger entry on the contact's card (automation and webhooks may react to an opt-out)."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class ConsentPayload(msgspec.Struct):
    entry_id: int
    contact_id: int
    channel: str
    purpose: str
    status: str
    source: str
    ref: str = ""
    """What the entry came from, when known: a campaign recipient's tracking token (one-click link, keyword)."""


def card(data: dict[str, Any]) -> list[str]:
    return [channels.contact(data["contact_id"])]


CONSENT_RECORDED = EventType("consent.recorded", "A consent entry was appended to a contact's ledger (entry_id, "
                             "contact_id, channel, purpose, status opt_in|opt_out, source, ref).", ConsentPayload, card)

declare(CONSENT_RECORDED)
