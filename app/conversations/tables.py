"""Tenant-schema tables of queues and conversations."""

from __future__ import annotations

from piccolo.columns import Array, Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.contacts.tables import Contact

STATUSES = ("waiting", "active", "wrapup", "snoozed", "closed")
PRIORITY_AGEING_SECONDS = 60
"""Each this many seconds of waiting count as one point of `Conversation.priority`: the queue is in the order of
`created_at - priority x PRIORITY_AGEING_SECONDS` (earliest first), so an urgent item goes ahead and none starves."""


def waiting_order(table: str = '"conversation"') -> str:
    """SQL of that order for `table` (a name or alias): the console's list, the router's claim and the index of
    routing's migration 00_02 use this one expression (UTC wall time, so the index may hold it)."""
    return (f"({table}.created_at AT TIME ZONE 'UTC') - {table}.priority * interval '{PRIORITY_AGEING_SECONDS} "
            f"seconds', {table}.id")


OPEN_STATUSES = ("waiting", "active", "wrapup", "snoozed")
"""Not closed: a customer's next message joins the conversation rather than opening another (and wakes a snoozed
one)."""


class Queue(Table, tablename="queue"):
    """A topic customers are routed to; `roles` limits who sees it (empty: every role)."""

    id: Serial
    key = Varchar(length=40, unique=True)
    name = Varchar(length=100)
    roles = Array(base_column=Varchar(length=20), default=list)
    position = Integer(default=0)
    archived = Boolean(default=False)
    wrapup_seconds = Integer(default=0)
    """After an operator closes or wraps up one of its conversations, they stay in wrap-up this long (0: none)."""
    wrapup_required = Boolean(default=False)
    """A disposition code is required: an ended call cannot be left without one, and its operator takes no new work
    until they wrapped it up (app.conversations.dispositions)."""


class Conversation(Table, tablename="conversation"):
    id: Serial
    contact = ForeignKey(references=Contact, null=True)
    channel = Varchar(length=10)
    queue = ForeignKey(references=Queue, null=False)
    status = Varchar(length=10, default="waiting", index=True)
    subject = Varchar(length=300, default="")
    from_address = Varchar(length=254, default="")  # phone/email/visitor the customer used
    assigned_to = ForeignKey(references=User, null=True)
    external_ref = Varchar(length=100, default="", index=True)  # CallSid, MessageSid thread, chat id
    created_at = Timestamptz(default=TimestamptzNow())
    taken_at = Timestamptz(null=True, default=None)
    ended_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    wrapup_code = Varchar(length=50, default="")
    wrapup_note = Text(default="")
    snoozed_until = Timestamptz(null=True, default=None)
    """While `snoozed`: when it comes back on its own (a customer's message brings it back sooner)."""
    merged_into = Integer(null=True, default=None)
    """Set on a conversation merged into another (closed): the survivor's id."""
    priority = Integer(default=0)
    """Higher first in the queue; waiting ages it (PRIORITY_AGEING_SECONDS). app.routing adds the column."""
    callback_number = Varchar(length=30, default="")
    """A caller who pressed the callback digit while waiting: the number to call back (E.164). The item keeps its
    place (created_at); added by telephony's migration (telephony.callbacks)."""
    callback_requested_at = Timestamptz(null=True, default=None)


class Disposition(Table, tablename="queue_disposition"):
    """A wrap-up code admins offer on a queue's wrap-up form (unique per queue); none defined: any short code."""

    id: Serial
    queue = ForeignKey(references=Queue, null=False, index=True)
    code = Varchar(length=50)
    label = Varchar(length=100)
    position = Integer(default=0)


class BlockedAddress(Table, tablename="blocked_address"):
    """A phone number or e-mail address marked as spam: its messages are still stored, but open no queue item."""

    id: Serial
    address = Varchar(length=254, unique=True)
    """Normalised: E.164 for phones, lowercase for e-mail."""
    kind = Varchar(length=10)  # phone | email | other
    reason = Varchar(length=300, default="")
    blocked_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
