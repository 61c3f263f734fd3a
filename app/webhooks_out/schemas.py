"""Wire shapes of the outbound webhooks API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec

Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2000, description="http:// or https:// URL")]
EventName = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class EndpointIn(msgspec.Struct, forbid_unknown_fields=True):
    url: Url
    events: Annotated[list[EventName], msgspec.Meta(min_length=1, max_length=500)]
    """Names from GET /api/v1/events/catalogue, or ["*"] for every event."""
    description: Annotated[str, msgspec.Meta(max_length=500)] = ""
    enabled: bool = True


class EndpointPatch(msgspec.Struct, forbid_unknown_fields=True):
    url: Url | None = None
    events: Annotated[list[EventName], msgspec.Meta(min_length=1, max_length=500)] | None = None
    description: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    enabled: bool | None = None
    """true turns an endpoint back on (its failure count starts again)."""


class SecretOut(msgspec.Struct):
    id: int
    created_at: dt.datetime
    expires_at: dt.datetime | None
    """When it stops signing (None: the current secret)."""
    hint: str
    """Its first characters."""


class EndpointOut(msgspec.Struct):
    id: int
    url: str
    description: str
    events: list[str]
    enabled: bool
    disabled_reason: str
    """`gone` (410), `failing` (a day of failures), `manual`, or empty."""
    failing_since: dt.datetime | None
    created_at: dt.datetime
    secrets: list[SecretOut]


class EndpointCreated(msgspec.Struct):
    """The endpoint and its signing secret (`whsec_` + base64): verify deliveries with it (Standard Webhooks)."""

    id: int
    secret: str
    endpoint: EndpointOut


class SecretValue(msgspec.Struct):
    secret: str


class AttemptOut(msgspec.Struct):
    attempted_at: dt.datetime
    response_code: int | None
    latency_ms: int | None
    error: str
    response_body: str


class DeliveryOut(msgspec.Struct):
    id: int
    endpoint_id: int | None
    msg_id: str
    """The `webhook-id` header: the same on every attempt and redelivery."""
    event_id: int | None
    event_type: str
    status: str
    """pending, succeeded or failed."""
    attempts: int
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    response_code: int | None
    latency_ms: int | None
    error: str
    request_headers: dict[str, Any]
    request_body: str
    response_body: str
    is_test: bool
    created_at: dt.datetime
    attempt_log: list[AttemptOut]
