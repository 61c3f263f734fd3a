"""SLA due times (app.sla.calendar.schedule): around the clock, and in business hours over a closed night and
weekend, with paused time counted the same way; a calendar that never opens again falls back to the wall clock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from app.hours.clock import Hours
from app.sla.calendar import ALWAYS, schedule

SOFIA = ZoneInfo("Europe/Sofia")
WEEKDAYS = Hours(zone=SOFIA, weekly={d: [(dt.time(9), dt.time(17))] for d in range(5)})


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=SOFIA)


def test_around_the_clock_counts_every_second() -> None:
    start = dt.datetime(2026, 12, 4, 16, 30, tzinfo=dt.UTC)
    warn, due = schedule(ALWAYS, start, 3600, 80, 0)
    assert (warn - start, due - start) == (dt.timedelta(minutes=48), dt.timedelta(hours=1))
    assert schedule(ALWAYS, start, 3600, 80, 600)[1] == start + dt.timedelta(minutes=70)


def test_business_hours_due_skips_the_night_and_the_weekend() -> None:
    friday = local(2026, 12, 4, 16, 30)  # a Friday, 30 open minutes left
    warn, due = schedule(WEEKDAYS, friday, 3600, 50, 0)
    assert warn == local(2026, 12, 4, 17, 0).astimezone(dt.UTC)  # half the target: exactly at closing
    assert due == local(2026, 12, 7, 9, 30).astimezone(dt.UTC)  # Monday 09:30, not Friday 17:30
    tuesday_night = local(2026, 12, 8, 20, 0)  # started while closed: counts from the next opening
    assert schedule(WEEKDAYS, tuesday_night, 8 * 3600 + 60, 80, 0)[1] == local(2026, 12, 10, 9, 1).astimezone(dt.UTC)


def test_paused_business_time_moves_due_by_open_seconds_only() -> None:
    friday = local(2026, 12, 4, 16, 0)
    paused = WEEKDAYS.elapsed(local(2026, 12, 4, 16, 45), local(2026, 12, 7, 10, 0))  # snoozed over the weekend
    assert paused == 15 * 60 + 60 * 60
    _, due = schedule(WEEKDAYS, friday, 3600, 80, paused)
    assert due == local(2026, 12, 7, 10, 15).astimezone(dt.UTC)  # 1 h on Friday, 1 h 15 on Monday


def test_a_calendar_that_never_opens_again_counts_around_the_clock() -> None:
    closed = Hours(zone=SOFIA, weekly={})
    start = dt.datetime(2026, 12, 4, 10, tzinfo=dt.UTC)
    assert schedule(closed, start, 600, 50, 0) == (start + dt.timedelta(minutes=5), start + dt.timedelta(minutes=10))
