"""Tenant-schema tables of business hours: calendars, their weekly intervals, closed dates and overrides, the
calendar and outside-hours behaviour of each queue, and the auto-replies sent while closed."""

from __future__ import annotations

from piccolo.columns import JSONB, Boolean, Date, ForeignKey, Integer, Serial, Text, Time, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.conversations.tables import Conversation, Queue

OUTSIDE_HOURS_CALL = ("voicemail", "callback")
"""What a call to a closed queue gets. `callback` is offered by the callback feature; until it is there the call
goes to voicemail."""


class Calendar(Table, tablename="hours_calendar"):
    """Opening hours in one time zone; public holidays of `country` (+ `subdivision`) when `public_holidays`."""

    id: Serial
    name = Varchar(length=100, unique=True)
    zone = Varchar(length=64)
    country = Varchar(length=3, default="")
    subdivision = Varchar(length=10, default="")
    public_holidays = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class WeeklyInterval(Table, tablename="hours_interval"):
    """One open interval on a weekday (0 = Monday) in the calendar's wall time; `closes <= opens` ends next day."""

    id: Serial
    calendar = ForeignKey(references=Calendar, on_delete=OnDelete.cascade)
    weekday = Integer()
    opens = Time()
    closes = Time()


class ClosedDate(Table, tablename="hours_closed_date"):
    """The shop's own closed day (stocktaking, a local feast) besides the public holidays."""

    id: Serial
    calendar = ForeignKey(references=Calendar, on_delete=OnDelete.cascade)
    day = Date()
    name = Varchar(length=100, default="")


class Override(Table, tablename="hours_override"):
    """One date with its own intervals (`[["09:00", "12:00"], ...]`; `[]` = closed all day)."""

    id: Serial
    calendar = ForeignKey(references=Calendar, on_delete=OnDelete.cascade)
    day = Date()
    name = Varchar(length=100, default="")
    intervals = JSONB(default=[])


class QueueHours(Table, tablename="hours_queue"):
    """A queue's calendar (none: open around the clock) and what happens outside its hours."""

    id: Serial
    queue = ForeignKey(references=Queue, on_delete=OnDelete.cascade, unique=True)
    calendar = ForeignKey(references=Calendar, null=True, on_delete=OnDelete.restrict)
    outside_hours_call = Varchar(length=10, default="voicemail")
    auto_reply = Text(default="")
    """The shop's own reply to chats and emails while closed; "" sends the built-in text in the customer's
    language."""


class AutoReplySent(Table, tablename="hours_auto_reply"):
    """One auto-reply per conversation per closed period (`reopens_at`: the opening that ends the period)."""

    id: Serial
    conversation = ForeignKey(references=Conversation, on_delete=OnDelete.cascade)
    reopens_at = Timestamptz(null=True, default=None)
    sent_at = Timestamptz(default=TimestamptzNow())
