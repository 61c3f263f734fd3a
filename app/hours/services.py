"""Business-hours rules: calendars (weekly intervals, the shop's closed dates, public holidays, overrides), the
calendar and outside-hours setting of each queue, and `hours_for_queue`, what routing and SLA clocks read.

`hours_for_queue(queue_id)` is cached per process for CACHE_SECONDS, keyed by schema (a tenant's entry is only
found under its own schema); an edit in this process forgets the tenant's entries once it commits, an edit in
another process shows within CACHE_SECONDS.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time as monotonic
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from app.accounts.services import Principal
from app.audit import services as audit
from app.conversations.tables import Queue
from app.hours.clock import Hours, Interval
from app.hours.events import QUEUE_HOURS_CHANGED
from app.hours.tables import OUTSIDE_HOURS_CALL, Calendar, ClosedDate, Override, QueueHours, WeeklyInterval
from app.lib import jobs
from app.lib.clock import now
from app.lib.db import current_tenant, current_uow
from app.lib.errors import Forbidden, Invalid, NotFound
from app.lib.lru import LRU
from realtime.publish import emit

CACHE_SECONDS = 10.0
"""How long a process answers `hours_for_queue` from memory (an edit in another process shows within this)."""
_cache: LRU[tuple[str, int], tuple[float, Hours | None]] = LRU(20_000)
HOLIDAY_YEARS = (-1, 0, 1, 2)
"""Public holidays are loaded for these years around the current one (enough for any due time or report)."""
TIME_RE = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
WEEKDAYS = range(7)


# -- what the other domains read ------------------------------------------------------------------------------------

async def hours_for_queue(queue_id: int) -> Hours | None:
    """The business hours of a queue; None when it has no calendar (open around the clock)."""
    key = (current_uow().schema, queue_id)
    hit = _cache.get(key)
    clock = monotonic.monotonic()
    if hit is not None and hit[0] > clock:
        return hit[1]
    link = await QueueHours.select(QueueHours.calendar).where(QueueHours.queue == queue_id).first()
    hours = await hours_of(link["calendar"]) if link and link["calendar"] else None
    _cache[key] = (clock + CACHE_SECONDS, hours)
    return hours


async def hours_of(calendar_id: int) -> Hours:
    """One calendar, ready for arithmetic (public holidays for the years around today included)."""
    cal = await calendar_row(calendar_id)
    zone = ZoneInfo(cal["zone"])
    weekly: dict[int, list[Interval]] = {d: [] for d in WEEKDAYS}
    for row in await WeeklyInterval.select().where(WeeklyInterval.calendar == calendar_id).order_by(
            WeeklyInterval.opens):
        weekly[row["weekday"]].append((row["opens"], row["closes"]))
    closed = {r["day"] for r in await ClosedDate.select(ClosedDate.day).where(ClosedDate.calendar == calendar_id)}
    if cal["public_holidays"] and cal["country"]:
        year = now().astimezone(zone).year
        closed |= set(public_holidays(cal["country"], cal["subdivision"], [year + d for d in HOLIDAY_YEARS]))
    overrides = {r["day"]: [_interval_of(i) for i in r["intervals"]]
                 for r in await Override.select(Override.day, Override.intervals).where(
                     Override.calendar == calendar_id).output(load_json=True)}
    return Hours(zone=zone, weekly=weekly, closed_dates=frozenset(closed), overrides=overrides)


async def closed_queues(queue_ids: Iterable[int], at: dt.datetime | None = None) -> dict[int, dt.datetime | None]:
    """The queues among `queue_ids` that are closed at `at` (now), each with when it opens next (None: never)."""
    moment = at or now()
    out: dict[int, dt.datetime | None] = {}
    for queue_id in queue_ids:
        hours = await hours_for_queue(queue_id)
        if hours is not None and not hours.is_open(moment):
            out[queue_id] = hours.next_open(moment)
    return out


def forget_cached() -> None:
    """Forget this tenant's cached hours now and again once the open unit of work commits (an edit)."""
    uow = current_uow()
    schema = uow.schema

    async def forget() -> None:
        for key in [k for k in _cache if k[0] == schema]:
            _cache.pop(key)

    for key in [k for k in _cache if k[0] == schema]:
        _cache.pop(key)
    uow.after_commit_once(forget)


@functools.lru_cache(maxsize=512)
def _holidays_of(country: str, subdivision: str, year: int) -> tuple[tuple[dt.date, str], ...]:
    found = holidays_lib.country_holidays(country, subdiv=subdivision or None, years=year)
    return tuple(sorted(found.items()))


def public_holidays(country: str, subdivision: str, years: Iterable[int]) -> dict[dt.date, str]:
    """The public holidays of a country (and subdivision) by date, with their English names."""
    out: dict[dt.date, str] = {}
    for year in years:
        out.update(_holidays_of(country, subdivision, year))
    return out


# -- calendars: reading -------------------------------------------------------------------------------------------

async def calendars() -> list[dict[str, Any]]:
    rows = await Calendar.select().order_by(Calendar.name)
    used = await QueueHours.select(QueueHours.calendar, QueueHours.queue.name.as_alias("queue_name")).where(
        QueueHours.calendar.is_not_null())
    return [{**r, "queues": sorted(u["queue_name"] for u in used if u["calendar"] == r["id"])} for r in rows]


async def calendar(calendar_id: int) -> dict[str, Any]:
    """A calendar with its week, the shop's closed dates, overrides and the public holidays of the next 12 months."""
    cal = await calendar_row(calendar_id)
    weekly = await WeeklyInterval.select(WeeklyInterval.weekday, WeeklyInterval.opens, WeeklyInterval.closes).where(
        WeeklyInterval.calendar == calendar_id).order_by(WeeklyInterval.weekday).order_by(WeeklyInterval.opens)
    closed = await ClosedDate.select(ClosedDate.id, ClosedDate.day, ClosedDate.name).where(
        ClosedDate.calendar == calendar_id).order_by(ClosedDate.day)
    overrides = await Override.select(Override.id, Override.day, Override.name, Override.intervals).where(
        Override.calendar == calendar_id).order_by(Override.day).output(load_json=True)
    zone = ZoneInfo(cal["zone"])
    today = now().astimezone(zone).date()
    public: list[dict[str, Any]] = []
    if cal["country"]:
        found = public_holidays(cal["country"], cal["subdivision"], [today.year, today.year + 1])
        public = [{"day": d, "name": n} for d, n in sorted(found.items())
                  if today <= d < today + dt.timedelta(days=366)]
    queues = await QueueHours.select(QueueHours.queue.key.as_alias("key"), QueueHours.queue.name.as_alias("name")
                                     ).where(QueueHours.calendar == calendar_id)
    hours = await hours_of(calendar_id)
    moment = now()
    return {**cal, "weekly": [{"weekday": w["weekday"], "opens": clock_text(w["opens"], start=True),
                               "closes": clock_text(w["closes"], start=False)} for w in weekly],
            "closed_dates": closed,
            "overrides": [{**o, "intervals": [{"opens": a, "closes": b} for a, b in o["intervals"]]}
                          for o in overrides],
            "public_holiday_list": public, "queues": queues, "open_now": hours.is_open(moment),
            "next_open": hours.next_open(moment)}


async def calendar_row(calendar_id: int) -> dict[str, Any]:
    row = await Calendar.select().where(Calendar.id == calendar_id).first()
    if row is None:
        raise NotFound("No calendar %(calendar_id)s.", calendar_id=calendar_id)
    return row


# -- parsing and permissions shared by the admin's edits ------------------------------------------------

def require_admin(actor: Principal) -> None:
    if not actor.has_role("admin"):
        raise Forbidden("Only an admin can change business hours.")


def clock_text(value: dt.time, *, start: bool) -> str:
    """"09:00"; an end at midnight reads "24:00"."""
    return "24:00" if value == dt.time(0) and not start else value.strftime("%H:%M")


def parse_time(text: str, field: str, *, end: bool = False) -> dt.time:
    """"HH:MM" (24-hour); "24:00" only as an end: midnight at the end of the day."""
    match = TIME_RE.match((text or "").strip())
    if not match or (match.group(1) == "24" and (match.group(2) != "00" or not end)):
        raise Invalid("%(value)s is not a time; write it as HH:MM, e.g. 09:00 (24:00 only as a closing time).",
                      field=field, value=repr(text))
    hour, minute = int(match.group(1)), int(match.group(2))
    return dt.time(0) if hour == 24 else dt.time(hour, minute)


def _interval_of(pair: Sequence[str]) -> Interval:
    return parse_time(pair[0], "opens"), parse_time(pair[1], "closes", end=True)

# -- queues -------------------------------------------------------------------------------------------------------

async def queue_settings() -> list[dict[str, Any]]:
    """Every queue (archived ones too) with its calendar and outside-hours behaviour."""
    queues = await Queue.select(Queue.id, Queue.key, Queue.name, Queue.archived).order_by(Queue.position).order_by(
        Queue.id)
    links = {r["queue"]: r for r in await QueueHours.select(
        QueueHours.queue, QueueHours.calendar, QueueHours.calendar.name.as_alias("calendar_name"),
        QueueHours.outside_hours_call, QueueHours.auto_reply)}
    out = []
    for q in queues:
        link = links.get(q["id"], {})
        out.append({"queue_id": q["id"], "key": q["key"], "name": q["name"], "archived": q["archived"],
                    "calendar_id": link.get("calendar"), "calendar_name": link.get("calendar_name"),
                    "outside_hours_call": link.get("outside_hours_call", "voicemail"),
                    "auto_reply": link.get("auto_reply", "")})
    return out


async def queue_setting(queue_id: int) -> dict[str, Any]:
    for row in await queue_settings():
        if row["queue_id"] == queue_id:
            return row
    raise NotFound("No queue %(queue_id)s.", queue_id=queue_id)


async def queue_id_of(key: str) -> int:
    row = await Queue.select(Queue.id).where(Queue.key == key).first()
    if row is None:
        raise NotFound("No queue %(key)s.", key=repr(key))
    return int(row["id"])


async def set_queue_hours(actor: Principal, queue_id: int, *, calendar_id: int | None, outside_hours_call: str,
                          auto_reply: str) -> dict[str, Any]:
    """Which calendar a queue keeps (None: around the clock) and what a caller or writer gets while it is closed."""
    require_admin(actor)
    await queue_setting(queue_id)
    if calendar_id is not None and not await Calendar.exists().where(Calendar.id == calendar_id):
        raise Invalid("No calendar %(calendar_id)s.", field="calendar_id", calendar_id=calendar_id)
    if outside_hours_call not in OUTSIDE_HOURS_CALL:
        raise Invalid("outside_hours_call must be one of: %(choices)s.", field="outside_hours_call",
                      choices=", ".join(OUTSIDE_HOURS_CALL))
    auto_reply = (auto_reply or "").strip()
    if len(auto_reply) > 2000:
        raise Invalid("The auto-reply must be at most 2000 characters.", field="auto_reply")
    await current_uow().connection.execute(
        "INSERT INTO hours_queue (queue, calendar, outside_hours_call, auto_reply) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (queue) DO UPDATE SET calendar = EXCLUDED.calendar, "
        "outside_hours_call = EXCLUDED.outside_hours_call, auto_reply = EXCLUDED.auto_reply",
        queue_id, calendar_id, outside_hours_call, auto_reply)
    await audit.record("hours_queue.updated", actor_id=actor.user_id, actor=actor.label, target_type="queue",
                       target_id=queue_id, detail={"calendar_id": calendar_id,
                                                   "outside_hours_call": outside_hours_call,
                                                   "auto_reply": bool(auto_reply)})
    forget_cached()
    await announce(queue_id)
    return await queue_setting(queue_id)


# -- outside hours ------------------------------------------------------------------------------------------------

async def closed_now(queue_key: str, at: dt.datetime | None = None) -> dict[str, Any] | None:
    """None when the queue `queue_key` is open at `at` (now) or unknown; else what a caller gets: `reopens_at` (UTC,
    None if it never opens again), `reopens_local` (wall time in the calendar's zone) and `outside_hours_call`."""
    row = await Queue.select(Queue.id).where(Queue.key == queue_key).first()
    if row is None:
        return None
    hours = await hours_for_queue(row["id"])
    moment = at or now()
    if hours is None or hours.is_open(moment):
        return None
    link = await QueueHours.select(QueueHours.outside_hours_call).where(QueueHours.queue == row["id"]).first()
    reopens = hours.next_open(moment)
    return {"queue_id": row["id"], "reopens_at": reopens,
            "reopens_local": reopens.astimezone(hours.zone) if reopens else None,
            "outside_hours_call": link["outside_hours_call"] if link else "voicemail"}


async def offers_callback(queue_key: str) -> bool:
    """Whether the queue `queue_key` (an existing one) offers callers a callback outside its hours."""
    row = await QueueHours.select(QueueHours.outside_hours_call).where(QueueHours.queue.key == queue_key).first()
    return row is not None and row["outside_hours_call"] == "callback"


# -- opening and closing on the consoles ----------------------------------------------------------------------------

TICK_JOB = "hours.tick"
"""The timer job (app.hours.live.tick) that announces a queue's next opening or closing."""


async def announce(queue_id: int, at: dt.datetime | None = None) -> None:
    """Tell the consoles whether `queue_id` is open at `at` (now), and time the next announcement at its next opening
    or closing: one job per queue and instant, so edits and earlier timers converge on the same job (the key names
    the tenant: job keys are shared by every shop)."""
    hours = await hours_for_queue(queue_id)
    moment = at or now()
    is_open = hours is None or hours.is_open(moment)
    opens = None if hours is None or is_open else hours.next_open(moment)
    await emit(QUEUE_HOURS_CHANGED, queue_id=queue_id, open=is_open,
               **({"opens_at": opens.isoformat()} if opens else {}))
    if hours is None:
        return
    change = hours.next_close(moment) if is_open else opens
    if change is not None:
        await jobs.enqueue(TICK_JOB, {"queue_id": queue_id, "at": change.isoformat()}, delay=change - now(),
                           dedupe_key=f"{TICK_JOB}:{current_tenant().slug}:{queue_id}:{change.isoformat()}")


async def announce_calendar(calendar_id: int) -> None:
    """`announce` every queue that keeps the calendar (after an edit of it)."""
    for row in await QueueHours.select(QueueHours.queue).where(QueueHours.calendar == calendar_id):
        await announce(row["queue"])
