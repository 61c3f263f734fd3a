"""The time an SLA clock counts in: around the clock, or the open hours of the queue's business-hours calendar
(app.hours). Both answer `add(start, seconds)` and `elapsed(start, end)`, so the clock's arithmetic is the same."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from app.hours.clock import NeverOpens
from app.hours.services import hours_for_queue


class Calendar(Protocol):
    def add(self, start: dt.datetime, seconds: float) -> dt.datetime: ...

    def elapsed(self, start: dt.datetime, end: dt.datetime) -> float: ...


class AroundTheClock:
    """Every second counts."""

    def add(self, start: dt.datetime, seconds: float) -> dt.datetime:
        return start + dt.timedelta(seconds=seconds)

    def elapsed(self, start: dt.datetime, end: dt.datetime) -> float:
        return max(0.0, (end - start).total_seconds())


ALWAYS = AroundTheClock()


async def calendar_for(queue_id: int | None, business_hours: bool) -> Calendar:
    """The calendar a clock of `queue_id` counts in: around the clock unless the policy counts business hours only
    and the queue has a calendar."""
    if not business_hours or queue_id is None:
        return ALWAYS
    return await hours_for_queue(queue_id) or ALWAYS


def schedule(calendar: Calendar, started_at: dt.datetime, target_seconds: int, warn_percent: int,
             paused_seconds: float) -> tuple[dt.datetime, dt.datetime]:
    """(warn_at, due_at) of a clock: the target (and its warning share) counted from the start in the calendar's
    time, moved on by the time it was paused (counted the same way). A calendar that never opens again (every day
    closed from here on) cannot promise anything: the clock then counts around the clock rather than never."""
    try:
        warn = calendar.add(started_at, target_seconds * warn_percent / 100 + paused_seconds)
        due = calendar.add(started_at, target_seconds + paused_seconds)
    except NeverOpens:
        return schedule(ALWAYS, started_at, target_seconds, warn_percent, paused_seconds)
    return warn, due
