"""Agent events: a state change reaches the agent's own console, the supervisors' team panel and the router."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class StatePayload(msgspec.Struct):
    user_id: int
    state: str
    """available | busy | wrapup | away | offline"""
    reason: str
    """Why (away: break, lunch, training, meeting, missed_offers...; busy: call or capacity); may be empty."""
    previous: str
    """The state before the change."""


def team(data: dict[str, Any]) -> list[str]:
    return [channels.queue(), channels.user(data["user_id"])]


AGENT_STATE_CHANGED = EventType("agent.state_changed", "An agent's state changed: available, busy, wrapup, away or "
                                "offline (user_id, state, reason, previous).", StatePayload, team)
declare(AGENT_STATE_CHANGED)
