"""Wire shapes of the routing API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from app.lib.wire import DbInt


class QueueRoutingIn(msgspec.Struct, forbid_unknown_fields=True):
    strategy: str = "manual"
    """manual | round_robin | least_busy | longest_idle"""
    skills: dict[str, DbInt] = {}
    """Required skills with their minimum level (1 to 10): {"french": 3}."""
    sticky_minutes: DbInt = 0
    offer_timeout: DbInt = 20
    misses_before_away: DbInt = 3
    overflow_queue: str | None = None
    """The key of the queue items move to."""
    overflow_after: DbInt = 0


class QueueRoutingOut(msgspec.Struct):
    queue_id: int
    queue_key: str
    queue_name: str
    strategy: str
    skills: dict[str, int]
    sticky_minutes: int
    offer_timeout: int
    misses_before_away: int
    overflow_queue: str | None
    overflow_after: int


class SkillsIn(msgspec.Struct, forbid_unknown_fields=True):
    skills: dict[str, DbInt]
    """Every skill of the colleague with its level (1 to 10); skills left out are removed."""


class SkillsOut(msgspec.Struct):
    user_id: int
    skills: dict[str, int]


class PriorityIn(msgspec.Struct, forbid_unknown_fields=True):
    priority: DbInt
    """-10 to 10; higher is offered first (waiting time adds one point a minute)."""


class OfferOut(msgspec.Struct):
    id: int
    conversation_id: int
    queue_id: int
    queue_name: str
    user_id: int
    user_name: str
    channel: str
    status: str
    """pending | accepted | rejected | timeout | withdrawn"""
    created_at: dt.datetime
    expires_at: dt.datetime
    closed_at: dt.datetime | None
    reason: str
    decision_id: int | None
    subject: str
    contact_name: str | None


class DecisionOut(msgspec.Struct):
    id: int
    conversation_id: int
    queue_id: int
    strategy: str
    winner_id: int | None
    winner_name: str | None
    reason: str
    """skills | stickiness | round_robin | load | idle_time"""
    candidates: list[dict[str, Any]]
    """Every agent looked at: user_id, name, skills, free (room on the channel), load, idle_seconds, tried, excluded
    (skills | no_room | empty when eligible)."""
    created_at: dt.datetime
    offer_status: str | None
