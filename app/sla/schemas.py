"""Wire shapes of the SLA API: policies (targets in seconds) and the clocks on conversations."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from msgspec import Meta

from app.lib.wire import DbInt
from app.sla.tables import MAX_TARGET

Seconds = Annotated[int, Meta(ge=1, le=MAX_TARGET, description="A target in seconds (1 s to 366 days).")]


class PolicyIn(msgspec.Struct, forbid_unknown_fields=True):
    """A policy: which conversations (queue key, channel, priority; null = any) and their targets in seconds (null:
    no clock for that metric)."""

    name: str
    queue: str | None = None
    channel: str | None = None
    priority: DbInt | None = None
    first_response_seconds: Seconds | None = None
    next_response_seconds: Seconds | None = None
    resolution_seconds: Seconds | None = None
    business_hours: bool = False
    pause_statuses: list[str] = msgspec.field(default_factory=lambda: ["snoozed"])
    warn_percent: Annotated[int, Meta(ge=1, le=99)] = 80


class PolicyOut(msgspec.Struct):
    id: int
    name: str
    queue: str | None
    channel: str | None
    priority: int | None
    first_response_seconds: int | None
    next_response_seconds: int | None
    resolution_seconds: int | None
    business_hours: bool
    pause_statuses: list[str]
    warn_percent: int
    updated_at: dt.datetime


class ClockOut(msgspec.Struct):
    id: int
    conversation_id: int
    metric: str
    cycle: int
    state: str
    """running, paused, warning, breached (running past due), met, missed (met late or closed after due),
    stopped (closed before due without a response)."""
    policy_id: int | None
    target_seconds: int
    warn_percent: int
    business_hours: bool
    started_at: dt.datetime
    warn_at: dt.datetime
    due_at: dt.datetime
    paused_at: dt.datetime | None
    paused_seconds: float
    warned_at: dt.datetime | None
    met_at: dt.datetime | None
    breached_at: dt.datetime | None
    stopped_at: dt.datetime | None
