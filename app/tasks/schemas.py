"""Wire shapes of the tasks API. Times are ISO 8601 with an offset; they are stored in UTC."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from msgspec import Meta

from app.lib.wire import Id, Patch

Priority = Annotated[int, Meta(ge=0, le=3, description="0 normal, 1 raised, 2 high, 3 urgent.")]
Minutes = Annotated[int, Meta(ge=0, le=7 * 24 * 60, description="Minutes before the due time.")]


class TaskIn(msgspec.Struct, forbid_unknown_fields=True):
    contact_id: Id
    title: str
    kind: str = "todo"
    """callback | follow_up | todo"""
    due_at: dt.datetime | None = None
    assignee_id: Id | None = None
    """Default: the caller (unless a queue is given)."""
    queue_id: Id | None = None
    priority: Priority = 0
    remind_before: Minutes = 15
    conversation_id: Id | None = None
    order_id: Id | None = None
    deal_id: Id | None = None
    note: str = ""
    rrule: str = ""
    """An RFC 5545 RRULE such as FREQ=WEEKLY;BYDAY=MO: completing the task opens the next occurrence."""


class TaskPatch(Patch):
    """Complete (`status: done` with an `outcome`), cancel (`status: cancelled`), give up (`status: missed`: the
    customer could not be reached), or reschedule/reassign."""

    status: str | msgspec.UnsetType = msgspec.UNSET
    outcome: str | msgspec.UnsetType = msgspec.UNSET
    due_at: dt.datetime | msgspec.UnsetType = msgspec.UNSET
    assignee_id: Id | msgspec.UnsetType = msgspec.UNSET
    priority: Priority | msgspec.UnsetType = msgspec.UNSET
    remind_before: Minutes | msgspec.UnsetType = msgspec.UNSET
    title: str | msgspec.UnsetType = msgspec.UNSET


class TaskOut(msgspec.Struct):
    id: int
    kind: str
    title: str
    note: str
    contact_id: int
    contact_name: str | None
    conversation_id: int | None
    order_id: int | None
    deal_id: int | None
    assignee_id: int | None
    assignee_name: str | None
    queue_id: int | None
    queue_name: str | None
    due_at: dt.datetime | None
    remind_before: int
    priority: int
    status: str
    outcome: str
    rrule: str
    overdue: bool
    created_at: dt.datetime
    completed_at: dt.datetime | None
    reminded_at: dt.datetime | None
    previous_id: int | None = None
    next_id: int | None = None
    """After completing a recurring task: its next occurrence."""


class ScheduledJobOut(msgspec.Struct):
    id: int
    entrypoint: str
    state: str
    """queued | picked (running) | failed (held after its last attempt)"""
    due_at: dt.datetime
    attempts: int
    dedupe_key: str | None
