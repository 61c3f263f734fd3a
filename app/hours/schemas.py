"""Wire shapes of the business-hours API (times as "HH:MM" in the calendar's zone; "24:00" closes at midnight)."""

from __future__ import annotations

import datetime as dt

import msgspec

from app.lib.wire import DbInt, Id


class IntervalIn(msgspec.Struct, forbid_unknown_fields=True):
    weekday: DbInt
    """0 = Monday ... 6 = Sunday."""
    opens: str
    closes: str


class CalendarIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    zone: str
    """An IANA time zone name: Europe/Sofia."""
    country: str = ""
    """ISO 3166 code whose public holidays close the calendar ("" for none)."""
    subdivision: str = ""
    public_holidays: bool = True
    weekly: list[IntervalIn] = []


class OpenIntervalIn(msgspec.Struct, forbid_unknown_fields=True):
    opens: str
    closes: str


class ClosedDateIn(msgspec.Struct, forbid_unknown_fields=True):
    day: dt.date
    name: str = ""


class OverrideIn(msgspec.Struct, forbid_unknown_fields=True):
    day: dt.date
    name: str = ""
    intervals: list[OpenIntervalIn] = []
    """The day's own intervals; empty: closed all day."""


class QueueHoursIn(msgspec.Struct, forbid_unknown_fields=True):
    calendar_id: Id | None = None
    """None: the queue is open around the clock."""
    outside_hours_call: str = "voicemail"
    """voicemail | callback (callback falls back to voicemail until callbacks are offered)."""
    auto_reply: str = ""
    """The reply chats and emails get while closed; "" sends the built-in text in the customer's language."""


class IntervalOut(msgspec.Struct):
    weekday: int
    opens: str
    closes: str


class OpenIntervalOut(msgspec.Struct):
    opens: str
    closes: str


class ClosedDateOut(msgspec.Struct):
    id: int
    day: dt.date
    name: str


class HolidayOut(msgspec.Struct):
    day: dt.date
    name: str


class OverrideOut(msgspec.Struct):
    id: int
    day: dt.date
    name: str
    intervals: list[OpenIntervalOut]


class CalendarSummaryOut(msgspec.Struct):
    id: int
    name: str
    zone: str
    country: str
    subdivision: str
    public_holidays: bool
    queues: list[str]


class QueueRefOut(msgspec.Struct):
    key: str
    name: str


class CalendarOut(msgspec.Struct):
    id: int
    name: str
    zone: str
    country: str
    subdivision: str
    public_holidays: bool
    weekly: list[IntervalOut]
    closed_dates: list[ClosedDateOut]
    overrides: list[OverrideOut]
    public_holiday_list: list[HolidayOut]
    """The country's public holidays in the next 12 months."""
    queues: list[QueueRefOut]
    open_now: bool
    next_open: dt.datetime | None


class QueueHoursOut(msgspec.Struct):
    queue_id: int
    key: str
    name: str
    archived: bool
    calendar_id: int | None
    calendar_name: str | None
    outside_hours_call: str
    auto_reply: str


class QueueStatusOut(msgspec.Struct):
    queue_id: int
    open: bool
    opens_at: dt.datetime | None
    """When closed: the next opening (None: never)."""
