"""Wire shapes of the agents API: one's own status, the team's states, capacity per channel."""

from __future__ import annotations

import datetime as dt

import msgspec

from app.lib.wire import DbInt


class StatusIn(msgspec.Struct, forbid_unknown_fields=True):
    state: str
    """`available` or `away`; busy, wrap-up and offline follow from your work and consoles and cannot be chosen."""
    reason: str = ""
    """For `away`: break, lunch, training or meeting."""


class Room(msgspec.Struct):
    call: int
    sms: int
    email: int
    chat: int


class StatusOut(msgspec.Struct):
    user_id: int
    state: str
    """available | busy | wrapup | away | offline"""
    reason: str
    since: dt.datetime | None
    seconds_in_state: int
    wrapup_until: dt.datetime | None
    chosen: str
    """What you picked (available or away), restored when a console connects or work ends."""
    chosen_reason: str
    room: Room
    """Free slots per channel now (0 everywhere unless available or busy)."""


class TeamMemberOut(StatusOut):
    name: str = ""
    role: str = ""


class CapacityIn(msgspec.Struct, forbid_unknown_fields=True):
    """Only what is given changes; slots 0 to 100 (0: none of that channel)."""

    call: DbInt | None = None
    sms: DbInt | None = None
    email: DbInt | None = None
    chat: DbInt | None = None
    call_blocks: bool | None = None
    """A live call leaves no room for new chats and SMS (default on)."""


class CapacityOut(msgspec.Struct):
    user_id: int
    call: int
    sms: int
    email: int
    chat: int
    call_blocks: bool


class IntervalOut(msgspec.Struct):
    state: str
    reason: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    """None while it lasts."""
    seconds: int
    """Its length so far (until now when it lasts)."""
