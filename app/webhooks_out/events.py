"""Outbound webhook events: an endpoint the product turned off by itself (410 Gone, or a day of failures)."""

from __future__ import annotations

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class EndpointPayload(msgspec.Struct):
    endpoint_id: int
    reason: str
    """`gone` (the receiver answered 410) or `failing` (a day of failed attempts)."""


ENDPOINT_DISABLED = EventType(
    "webhook.endpoint_disabled", "An outbound webhook endpoint was turned off by itself: 410 Gone, or a day of "
    "failures (endpoint_id, reason).", EndpointPayload, lambda data: [channels.role("admin")])
declare(ENDPOINT_DISABLED)
