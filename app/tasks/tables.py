"""Tenant-schema tables of tasks.

`shop_order` and `deal` are plain integers with foreign keys made by the migration: orders and deals sit above tasks
in the layers (they may create tasks), so the tasks domain cannot import their tables."""

from __future__ import annotations

from piccolo.columns import ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.contacts.tables import Contact
from app.conversations.tables import Conversation, Queue

KINDS = ("callback", "follow_up", "todo")
STATUSES = ("open", "done", "cancelled", "missed")


class Task(Table, tablename="task"):
    id: Serial
    kind = Varchar(length=12, default="todo")
    title = Varchar(length=200)
    note = Text(default="")
    contact = ForeignKey(references=Contact, null=False, index=True)
    conversation = ForeignKey(references=Conversation, null=True, default=None)
    shop_order = Integer(null=True, default=None)
    deal = Integer(null=True, default=None)
    assignee = ForeignKey(references=User, null=True, default=None)
    queue = ForeignKey(references=Queue, null=True, default=None)
    due_at = Timestamptz(null=True, default=None)
    """UTC; entered and shown in the viewer's zone."""
    remind_before = Integer(default=15)
    """Minutes before `due_at` the assignee is reminded (toast and email)."""
    priority = Integer(default=0)
    status = Varchar(length=10, default="open")  # open | done | cancelled | missed
    outcome = Text(default="")
    rrule = Text(default="")
    """An RFC 5545 RRULE (`FREQ=WEEKLY;BYDAY=MO`): completing the task opens the next occurrence."""
    series_start = Timestamptz(null=True, default=None)
    """A recurring task's first due time: the rule's DTSTART, so COUNT and BYSETPOS count from the series' start."""
    previous = Integer(null=True, default=None)
    """The occurrence this one follows (recurring tasks)."""
    created_by = ForeignKey(references=User, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    completed_at = Timestamptz(null=True, default=None)
    reminded_at = Timestamptz(null=True, default=None)
    """When the reminder fired (set under the row lock: a second run of the same job sees it and does nothing)."""
    overdue_at = Timestamptz(null=True, default=None)
    """When the overdue check found it still open past due."""
    routed_at = Timestamptz(null=True, default=None)
    """When a callback task opened its waiting conversation."""
