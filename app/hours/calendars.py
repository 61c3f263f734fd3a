"""Admins' edits of business-hours calendars: name, zone and public holidays, the week (split shifts), the shop's
own closed dates and one-off overrides; each edit is validated with a message a person can act on, audited, and
forgets the cached hours of the tenant once it commits."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterable, Sequence
from typing import Any

import holidays as holidays_lib

from app.accounts.services import Principal
from app.audit import services as audit
from app.hours.clock import Interval
from app.hours.services import (
    WEEKDAYS,
    announce_calendar,
    calendar,
    calendar_row,
    clock_text,
    forget_cached,
    parse_time,
    require_admin,
)
from app.hours.tables import Calendar, ClosedDate, Override, QueueHours, WeeklyInterval
from app.lib import i18n
from app.lib.db import current_uow
from app.lib.errors import Conflict, Invalid, NotFound


def _minutes(value: dt.time, *, end: bool) -> int:
    return 24 * 60 if end and value == dt.time(0) else value.hour * 60 + value.minute


def check_intervals(pairs: Sequence[tuple[str, str]], field: str) -> list[Interval]:
    """One day's intervals: each closes after it opens, none overlaps another (touching is fine)."""
    parsed: list[tuple[int, int, Interval]] = []
    for i, (opens_text, closes_text) in enumerate(pairs):
        opens = parse_time(opens_text, f"{field}[{i}].opens")
        closes = parse_time(closes_text, f"{field}[{i}].closes", end=True)
        start, end = _minutes(opens, end=False), _minutes(closes, end=True)
        if end <= start:
            raise Invalid("An interval must close after it opens (%(opens)s-%(closes)s); split one that runs past "
                          "midnight into two days.", field=f"{field}[{i}].closes", opens=opens_text,
                          closes=closes_text)
        parsed.append((start, end, (opens, closes)))
    parsed.sort(key=lambda p: p[0])
    for (_a_start, a_end, a), (b_start, _b_end, b) in itertools.pairwise(parsed):
        if b_start < a_end:
            raise Invalid("Intervals %(first)s and %(second)s overlap.", field=field,
                          first=f"{clock_text(a[0], start=True)}-{clock_text(a[1], start=False)}",
                          second=f"{clock_text(b[0], start=True)}-{clock_text(b[1], start=False)}")
    return [p[2] for p in parsed]


def check_zone(zone: str) -> str:
    zone = (zone or "").strip()
    if not i18n.check_zone(zone):
        raise Invalid("Unknown time zone %(zone)s; use a name like Europe/Sofia.", field="zone", zone=repr(zone))
    return zone


def check_country(country: str, subdivision: str) -> tuple[str, str]:
    country, subdivision = (country or "").strip().upper(), (subdivision or "").strip().upper()
    if not country:
        if subdivision:
            raise Invalid("Choose a country for the subdivision %(subdivision)s.", field="subdivision",
                          subdivision=repr(subdivision))
        return "", ""
    supported = holidays_lib.list_supported_countries()
    if country not in supported:
        raise Invalid("No public holidays are known for the country %(country)s; use a two-letter code such as BG "
                      "or DE.", field="country", country=repr(country))
    if subdivision and subdivision not in [s.upper() for s in supported[country]]:
        raise Invalid("%(country)s has no subdivision %(subdivision)s; choose one of: %(choices)s.",
                      field="subdivision", country=country, subdivision=repr(subdivision),
                      choices=", ".join(supported[country]))
    return country, subdivision


def _name(name: str, field: str = "name", *, required: bool = True) -> str:
    name = (name or "").strip()
    if (required and not name) or len(name) > 100:
        raise Invalid("%(field_name)s must be 1 to 100 characters.", field=field, field_name=field)
    return name


def _weekly(weekly: Iterable[Any]) -> dict[int, list[Interval]]:
    days: dict[int, list[tuple[str, str]]] = {d: [] for d in WEEKDAYS}
    for i, item in enumerate(weekly):
        if item.weekday not in WEEKDAYS:
            raise Invalid("weekday must be 0 (Monday) to 6 (Sunday).", field=f"weekly[{i}].weekday")
        days[item.weekday].append((item.opens, item.closes))
    return {d: check_intervals(pairs, f"weekly[{d}]") for d, pairs in days.items()}


async def save_calendar(actor: Principal, data: Any, calendar_id: int | None = None) -> dict[str, Any]:
    """Create a calendar (`calendar_id` None) or replace one's name, zone, holidays and week."""
    require_admin(actor)
    name = _name(data.name)
    zone = check_zone(data.zone)
    country, subdivision = check_country(data.country, data.subdivision)
    weekly = _weekly(data.weekly)
    same = Calendar.select(Calendar.id).where(Calendar.name == name)
    if calendar_id is not None:
        await calendar_row(calendar_id)
        same = same.where(Calendar.id != calendar_id)
    if await same.first():
        raise Conflict("A calendar named %(name)s exists already.", field="name", name=repr(name))
    values = {Calendar.name: name, Calendar.zone: zone, Calendar.country: country,
              Calendar.subdivision: subdivision, Calendar.public_holidays: bool(data.public_holidays)}
    detail = {"name": name, "zone": zone, "country": country, "subdivision": subdivision,
              "weekly": {d: [f"{clock_text(a, start=True)}-{clock_text(b, start=False)}" for a, b in p]
                         for d, p in weekly.items() if p}}
    if calendar_id is None:
        rows = await Calendar.insert(Calendar(**{c._meta.name: v for c, v in values.items()})).returning(Calendar.id)
        calendar_id = int(rows[0]["id"])
        await audit.record("hours_calendar.created", actor_id=actor.user_id, actor=actor.label,
                           target_type="hours_calendar", target_id=calendar_id, detail=detail)
    else:
        await Calendar.update(values).where(Calendar.id == calendar_id)
        await WeeklyInterval.delete().where(WeeklyInterval.calendar == calendar_id)
        await audit.record("hours_calendar.updated", actor_id=actor.user_id, actor=actor.label,
                           target_type="hours_calendar", target_id=calendar_id, detail=detail)
    rows_in = [WeeklyInterval(calendar=calendar_id, weekday=d, opens=a, closes=b)
               for d, pairs in weekly.items() for a, b in pairs]
    if rows_in:
        await WeeklyInterval.insert(*rows_in)
    forget_cached()
    await announce_calendar(calendar_id)
    return await calendar(calendar_id)


async def delete_calendar(actor: Principal, calendar_id: int) -> None:
    require_admin(actor)
    cal = await calendar_row(calendar_id)
    used = await QueueHours.select(QueueHours.queue.name.as_alias("name")).where(QueueHours.calendar == calendar_id)
    if used:
        raise Conflict("Calendar %(name)s is used by the queues %(queues)s; give them another calendar first.",
                       name=repr(cal["name"]), queues=", ".join(u["name"] for u in used))
    await Calendar.delete().where(Calendar.id == calendar_id)
    await audit.record("hours_calendar.deleted", actor_id=actor.user_id, actor=actor.label,
                       target_type="hours_calendar", target_id=calendar_id, detail={"name": cal["name"]})
    forget_cached()


def _day(value: Any, field: str = "day") -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise Invalid("%(value)s is not a date; write it as YYYY-MM-DD.", field=field, value=repr(value)) from None


async def add_closed_date(actor: Principal, calendar_id: int, day: Any, name: str) -> dict[str, Any]:
    require_admin(actor)
    await calendar_row(calendar_id)
    when, label = _day(day), _name(name, required=False)
    if await ClosedDate.exists().where((ClosedDate.calendar == calendar_id) & (ClosedDate.day == when)):
        raise Conflict("%(day)s is a closed date already.", field="day", day=when.isoformat())
    await ClosedDate.insert(ClosedDate(calendar=calendar_id, day=when, name=label))
    await audit.record("hours_closed_date.added", actor_id=actor.user_id, actor=actor.label,
                       target_type="hours_calendar", target_id=calendar_id,
                       detail={"day": when.isoformat(), "name": label})
    forget_cached()
    await announce_calendar(calendar_id)
    return await calendar(calendar_id)


async def remove_closed_date(actor: Principal, calendar_id: int, closed_id: int) -> dict[str, Any]:
    require_admin(actor)
    rows = await ClosedDate.delete().where((ClosedDate.id == closed_id) & (ClosedDate.calendar == calendar_id)
                                           ).returning(ClosedDate.day)
    if not rows:
        raise NotFound("No closed date %(closed_id)s in this calendar.", closed_id=closed_id)
    await audit.record("hours_closed_date.removed", actor_id=actor.user_id, actor=actor.label,
                       target_type="hours_calendar", target_id=calendar_id, detail={"day": str(rows[0]["day"])})
    forget_cached()
    await announce_calendar(calendar_id)
    return await calendar(calendar_id)


async def set_override(actor: Principal, calendar_id: int, day: Any, name: str,
                       intervals: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Give one date its own intervals (none: closed that day), replacing an earlier override of that date."""
    require_admin(actor)
    await calendar_row(calendar_id)
    when, label = _day(day), _name(name, required=False)
    parsed = check_intervals(intervals, "intervals")
    stored = [[clock_text(a, start=True), clock_text(b, start=False)] for a, b in parsed]
    await current_uow().connection.execute(
        "INSERT INTO hours_override (calendar, day, name, intervals) VALUES ($1, $2, $3, $4::jsonb) "
        "ON CONFLICT (calendar, day) DO UPDATE SET name = EXCLUDED.name, intervals = EXCLUDED.intervals",
        calendar_id, when, label, json.dumps(stored))
    await audit.record("hours_override.set", actor_id=actor.user_id, actor=actor.label, target_type="hours_calendar",
                       target_id=calendar_id, detail={"day": when.isoformat(), "name": label, "intervals": stored})
    forget_cached()
    await announce_calendar(calendar_id)
    return await calendar(calendar_id)


async def remove_override(actor: Principal, calendar_id: int, override_id: int) -> dict[str, Any]:
    require_admin(actor)
    rows = await Override.delete().where((Override.id == override_id) & (Override.calendar == calendar_id)
                                         ).returning(Override.day)
    if not rows:
        raise NotFound("No override %(override_id)s in this calendar.", override_id=override_id)
    await audit.record("hours_override.removed", actor_id=actor.user_id, actor=actor.label,
                       target_type="hours_calendar", target_id=calendar_id, detail={"day": str(rows[0]["day"])})
    forget_cached()
    await announce_calendar(calendar_id)
    return await calendar(calendar_id)
