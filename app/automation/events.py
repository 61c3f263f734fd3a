"""Automation events: a user's toast from a rule's "notify a user" action, and a run logged (on the card)."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class NotifiedPayload(msgspec.Struct):
    user_id: int
    text: str
    contact_id: int | None = None


class RunPayload(msgspec.Struct):
    run_id: int
    rule_id: int
    status: str
    contact_id: int | None = None


def _user(data: dict[str, Any]) -> list[str]:
    return [channels.user(data["user_id"])]


def _card(data: dict[str, Any]) -> list[str]:
    return [channels.contact(data["contact_id"])] if data.get("contact_id") else [channels.role("admin")]


NOTIFIED = EventType("automation.notified", "An automation rule notified a user (user_id, text): a toast on their "
                     "open pages.", NotifiedPayload, _user)
RUN_LOGGED = EventType("automation.run_logged", "An automation rule ran or was evaluated for a record (run_id, "
                       "rule_id, status, contact_id).", RunPayload, _card)
declare(NOTIFIED, RUN_LOGGED)
