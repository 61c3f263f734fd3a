"""Business-hours clock: pure arithmetic over a calendar's open intervals (no database, no I/O).

Rules a reader needs (they are the contract the SLA and routing branches code against):

- ``weekly[weekday]`` (0 = Monday) lists open intervals in the calendar's local wall time. Several intervals per
  day are allowed (split shifts); they may touch or overlap, the clock merges them.
- An interval whose end is not after its start **ends on the next day**: ``(22:00, 02:00)`` is open from 22:00
  until 02:00 the following morning, and ``(09:00, 00:00)`` means "until midnight" (24:00). ``(00:00, 00:00)`` is
  the whole day. The interval belongs to the date it starts on: a holiday on the next day does not cut it.
- A date's intervals are, in order of precedence: ``overrides[date]`` (``[]`` = closed that day), else nothing
  when the date is in ``closed_dates``, else ``weekly[date.weekday()]``.
- DST: wall times are turned into instants with ``zoneinfo``, so a day has its true length (23 h on the
  spring-forward day, 25 h on the fall-back day). A boundary that falls in the skipped hour is moved to the
  instant the clocks jump (a shop "opening at 03:30" on a day without 03:30 opens at 04:00 new time). A boundary
  in the repeated hour is read as its first occurrence for a start and its second for an end, so a shift covers
  every instant whose wall-clock reading lies inside it.
- Inputs must be aware datetimes; every datetime returned is aware and in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[time, time]

_DAY = timedelta(days=1)
# A week past the last dated exception the calendar repeats weekly, so a search that far without an opening
# will never find one.
_SETTLED = timedelta(days=8)
# Spans are merged up to this length and then handed out in pieces, so an around-the-clock calendar stays finite.
_CHUNK = timedelta(days=7)
# ``next_close`` looks this far ahead for a closing.
_CLOSE_HORIZON = timedelta(days=366)


class NeverOpens(ValueError):
    """The calendar has no open time at or after the instant asked about."""


@dataclass(frozen=True)
class Hours:
    """One calendar, ready for arithmetic. ``None`` instead of an ``Hours`` means open around the clock."""

    zone: ZoneInfo
    weekly: Mapping[int, Sequence[Interval]]
    closed_dates: frozenset[date] = frozenset()
    overrides: Mapping[date, Sequence[Interval]] = field(default_factory=dict)

    # -- public verbs ---------------------------------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        """Whether the calendar is open at the instant ``at``."""
        at = _utc(at)
        for start, end in self._spans(at):
            return start <= at < end
        return False

    def next_open(self, at: datetime) -> datetime | None:
        """``at`` itself (in UTC) when open, else the next opening; ``None`` if the calendar never opens again."""
        at = _utc(at)
        for start, _end in self._spans(at):
            return max(start, at)
        return None

    def next_close(self, at: datetime) -> datetime | None:
        """When the opening that contains ``at`` (or the next one) ends.

        ``None`` if the calendar never opens again or stays open for more than a year from ``at``.
        """
        at = _utc(at)
        closing: datetime | None = None
        for start, end in self._spans(at):
            if closing is not None and start > closing:
                return closing
            closing = end
            if closing - at > _CLOSE_HORIZON:
                return None
        return closing

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant at which ``seconds`` of open time have passed since ``start``.

        ``seconds <= 0`` gives ``start`` back. A due time that lands exactly on a closing instant is that closing
        instant (not the next opening). Raises :class:`NeverOpens` when the calendar runs out of open time.
        """
        cursor = _utc(start)
        if seconds <= 0:
            return cursor
        remaining = timedelta(seconds=seconds)
        for span_start, span_end in self._spans(cursor):
            cursor = max(cursor, span_start)
            available = span_end - cursor
            if remaining <= available:
                return cursor + remaining
            remaining -= available
        raise NeverOpens(f"the calendar has no open time after {cursor.isoformat()}")

    def elapsed(self, start: datetime, end: datetime) -> float:
        """Open seconds between ``start`` and ``end`` (0 when ``end`` is not after ``start``)."""
        start, end = _utc(start), _utc(end)
        total = timedelta()
        if end <= start:
            return 0.0
        for span_start, span_end in self._spans(start):
            if span_start >= end:
                break
            total += min(span_end, end) - max(span_start, start)
        return total.total_seconds()

    # -- the open spans -------------------------------------------------------------------------------------------

    def intervals_on(self, day: date) -> Sequence[Interval]:
        """The wall-time intervals that start on the local date ``day`` (overrides, closed dates, then the week)."""
        if day in self.overrides:
            return self.overrides[day]
        if day in self.closed_dates:
            return ()
        return self.weekly.get(day.weekday(), ())

    def _spans(self, after: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Merged open spans in UTC, in order, each ending after ``after``; finite only if the calendar closes."""
        day = after.astimezone(self.zone).date() - _DAY  # yesterday's interval may run past midnight
        weekly_open = any(self.weekly.get(d) for d in range(7))
        last_exception = max([*self.overrides, *self.closed_dates, day])
        current: tuple[datetime, datetime] | None = None
        while weekly_open or day <= last_exception + _SETTLED:
            for span in sorted(self._day_spans(day)):
                if current is None:
                    current = span
                elif span[0] <= current[1]:  # touches or overlaps: one opening
                    if span[1] <= current[1]:
                        continue
                    if current[1] - current[0] < _CHUNK:
                        current = (current[0], span[1])
                    else:  # hand out a long opening in pieces that do not overlap
                        if current[1] > after:
                            yield current
                        current = (current[1], span[1])
                else:
                    if current[1] > after:
                        yield current
                    current = span
            day += _DAY
        if current is not None and current[1] > after:
            yield current

    def _day_spans(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        for opens, closes in self.intervals_on(day):
            end_day = day + _DAY if closes <= opens else day
            start = _instant(self.zone, day, opens, last=False)
            end = _instant(self.zone, end_day, closes, last=True)
            if end > start:
                yield start, end


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("business-hours arithmetic needs an aware datetime")
    return moment.astimezone(UTC)


def _instant(zone: ZoneInfo, day: date, wall: time, *, last: bool) -> datetime:
    """The UTC instant of a local wall time (see the module docstring for skipped and repeated hours)."""
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return first
    if first < second:  # repeated hour: the wall time happens twice
        return second if last else first
    # Skipped hour: ``second`` is before the jump, ``first`` after it; find the jump to the second.
    low, high = second, first
    before = low.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)  # transitions fall on whole seconds and ``high`` is within one of it


def always_open_elapsed(start: datetime, end: datetime) -> float:
    """Seconds between two instants when there is no calendar (around the clock), for callers that get ``None``."""
    return max(0.0, (_utc(end) - _utc(start)).total_seconds())
