"""Wire shapes of the queue API."""

from __future__ import annotations

import datetime as dt

import msgspec

from app.lib.wire import DbInt, Id


class ConversationIn(msgspec.Struct, forbid_unknown_fields=True):
    channel: str
    queue: str = "general"
    contact_id: Id | None = None
    subject: str = ""
    from_address: str = ""


class ConversationOut(msgspec.Struct):
    id: int
    contact_id: int | None
    contact_name: str | None
    channel: str
    queue_id: int
    queue_key: str
    queue_name: str
    status: str
    subject: str
    from_address: str
    assigned_to_id: int | None
    assigned_to_name: str | None
    created_at: dt.datetime
    taken_at: dt.datetime | None
    closed_at: dt.datetime | None
    wrapup_code: str
    wrapup_note: str
    snoozed_until: dt.datetime | None = None
    """While `snoozed`: when it comes back by itself."""
    merged_into: int | None = None
    """On a conversation merged into another: the survivor's id."""
    callback_number: str = ""
    """A caller who asked to be called back (keeping their place in the queue): the number to call; "" otherwise."""
    callback_requested_at: dt.datetime | None = None
    """When the caller asked for the callback."""
    warnings: list[str] = []
    """On a hand assignment: what the assigner should know (the colleague is above capacity now)."""


class TransferIn(msgspec.Struct, forbid_unknown_fields=True):
    queue: str | None = None
    user_id: Id | None = None


class WrapUpIn(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    note: str = ""


class QueueIn(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    name: str
    roles: list[str] = []


class QueuePatch(msgspec.Struct, forbid_unknown_fields=True):
    """Only what is given changes."""

    name: str | None = None
    roles: list[str] | None = None
    """Roles that see the queue; empty: everyone."""
    position: DbInt | None = None
    archived: bool | None = None
    wrapup_seconds: DbInt | None = None
    """Seconds an operator stays in wrap-up after closing one of its conversations (0 to 3600; 0: none)."""
    wrapup_required: bool | None = None
    """Require a disposition code: an ended call must be wrapped up before its operator takes new work."""


class QueueOut(msgspec.Struct):
    id: int
    key: str
    name: str
    roles: list[str]
    position: int
    archived: bool
    wrapup_seconds: int = 0
    wrapup_required: bool = False


class DispositionIn(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    """Lowercase letters, digits, `_ . -`; unique in the queue."""
    label: str
    position: DbInt | None = None
    """Order on the wrap-up form; omitted: after the last."""


class DispositionPatch(msgspec.Struct, forbid_unknown_fields=True):
    label: str | None = None
    position: DbInt | None = None


class DispositionOut(msgspec.Struct):
    code: str
    label: str
    position: int


class QueueStat(msgspec.Struct):
    id: int
    key: str
    name: str
    waiting: int
    oldest: dt.datetime | None


class StatsOut(msgspec.Struct):
    queues: list[QueueStat]
    waiting: int
    longest_wait_seconds: int
    handled_today: int


# -- conversation actions ------------------------------------------------------------------------------------------

class AssignIn(msgspec.Struct, forbid_unknown_fields=True):
    """Either a colleague who sees the conversation's queue (it becomes theirs) or another queue (it waits there)."""

    user_id: Id | None = None
    queue: str | None = None


class SnoozeIn(msgspec.Struct, forbid_unknown_fields=True):
    until: dt.datetime
    """ISO 8601 with its UTC offset (2026-12-01T09:00:00+02:00); at most a year ahead."""


class CloseIn(msgspec.Struct, forbid_unknown_fields=True):
    note: str = ""


class MergeIn(msgspec.Struct, forbid_unknown_fields=True):
    other_id: Id
    """The conversation merged into this one (the same client's); it is closed with a pointer here."""


class BlockIn(msgspec.Struct, forbid_unknown_fields=True):
    """An address, or a conversation whose sender is blocked (its open conversations close)."""

    address: str | None = None
    conversation_id: Id | None = None
    reason: str = ""


class BlockedOut(msgspec.Struct):
    id: int
    address: str
    kind: str
    reason: str
    blocked_by_id: int | None
    blocked_by_name: str | None
    created_at: dt.datetime
