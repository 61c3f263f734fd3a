"""The business-hours clock: split shifts, holidays, overrides, DST days, add/elapsed, next opening."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.hours.clock import Hours, NeverOpens

SOFIA = ZoneInfo("Europe/Sofia")
BERLIN = ZoneInfo("Europe/Berlin")
H = 3600.0

SPLIT = [(time(9), time(13)), (time(14), time(18))]
SHOP = Hours(
    zone=SOFIA,
    weekly={0: SPLIT, 1: SPLIT, 2: SPLIT, 3: SPLIT, 4: SPLIT, 5: [(time(10), time(14))]},
    closed_dates=frozenset({date(2026, 12, 24)}),  # a Thursday
    overrides={date(2026, 12, 31): [(time(9), time(12))], date(2026, 12, 7): []},
)


def sofia(*args: int) -> datetime:
    return datetime(*args, tzinfo=SOFIA)  # type: ignore[misc]


def test_split_shift_closes_for_lunch() -> None:
    # Tuesday 1 December 2026
    assert SHOP.is_open(sofia(2026, 12, 1, 9, 0))
    assert SHOP.is_open(sofia(2026, 12, 1, 12, 59))
    assert not SHOP.is_open(sofia(2026, 12, 1, 13, 0))
    assert not SHOP.is_open(sofia(2026, 12, 1, 13, 30))
    assert SHOP.is_open(sofia(2026, 12, 1, 14, 0))
    assert not SHOP.is_open(sofia(2026, 12, 1, 18, 0))
    assert SHOP.next_open(sofia(2026, 12, 1, 13, 30)) == sofia(2026, 12, 1, 14, 0)
    assert SHOP.next_close(sofia(2026, 12, 1, 10, 0)) == sofia(2026, 12, 1, 13, 0)
    assert SHOP.elapsed(sofia(2026, 12, 1, 0, 0), sofia(2026, 12, 2, 0, 0)) == 8 * H
    assert SHOP.add(sofia(2026, 12, 1, 12, 30), 3600) == sofia(2026, 12, 1, 14, 30)


def test_results_are_utc_and_naive_input_is_refused() -> None:
    opened = SHOP.next_open(sofia(2026, 12, 1, 7, 0))
    assert opened is not None and opened.tzinfo is UTC and opened == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="aware"):
        SHOP.is_open(datetime(2026, 12, 1, 10, 0))


def test_holiday_is_closed_all_day_and_next_open_skips_it() -> None:
    assert not SHOP.is_open(sofia(2026, 12, 24, 10, 0))
    assert SHOP.elapsed(sofia(2026, 12, 24, 0, 0), sofia(2026, 12, 25, 0, 0)) == 0
    assert SHOP.next_open(sofia(2026, 12, 23, 18, 30)) == sofia(2026, 12, 25, 9, 0)


def test_override_replaces_the_day() -> None:
    # Thursday 31 December: 09:00-12:00 only; Monday 7 December: closed by an override.
    assert SHOP.is_open(sofia(2026, 12, 31, 11, 59))
    assert not SHOP.is_open(sofia(2026, 12, 31, 14, 30))
    assert SHOP.elapsed(sofia(2026, 12, 31, 0, 0), sofia(2027, 1, 1, 0, 0)) == 3 * H
    assert not SHOP.is_open(sofia(2026, 12, 7, 10, 0))
    assert SHOP.next_open(sofia(2026, 12, 5, 15, 0)) == sofia(2026, 12, 8, 9, 0)


def test_override_opens_a_holiday() -> None:
    hours = Hours(SOFIA, {0: SPLIT}, frozenset({date(2026, 12, 28)}), {date(2026, 12, 28): [(time(10), time(11))]})
    assert hours.is_open(sofia(2026, 12, 28, 10, 30))
    assert hours.elapsed(sofia(2026, 12, 28, 0, 0), sofia(2026, 12, 29, 0, 0)) == H


def test_next_open_over_a_weekend() -> None:
    # Saturday 5 December closes at 14:00; Sunday closed; Monday 7 December closed by override → Tuesday 09:00.
    assert SHOP.next_open(sofia(2026, 12, 5, 14, 0)) == sofia(2026, 12, 8, 9, 0)
    # An ordinary weekend: Friday 11 December 18:00 → Saturday 10:00; Saturday 14:00 → Monday 09:00.
    assert SHOP.next_open(sofia(2026, 12, 11, 18, 0)) == sofia(2026, 12, 12, 10, 0)
    assert SHOP.next_open(sofia(2026, 12, 12, 14, 0)) == sofia(2026, 12, 14, 9, 0)
    # Open time over the weekend is Saturday's four hours only.
    assert SHOP.elapsed(sofia(2026, 12, 11, 18, 0), sofia(2026, 12, 14, 9, 0)) == 4 * H


def test_add_and_elapsed_round_trip() -> None:
    start = sofia(2026, 12, 3, 16, 45)
    for seconds in (1, 900, 3600, 8 * H, 13 * H + 17, 40 * H, 200 * H):
        due = SHOP.add(start, seconds)
        assert SHOP.elapsed(start, due) == pytest.approx(seconds)
        assert SHOP.is_open(due - timedelta(seconds=1))
    # Ten hours from Thursday 16:45: 1h15 Thu, 8h Fri, then 45 min into Saturday (opens at 10:00).
    assert SHOP.add(start, 10 * H) == sofia(2026, 12, 5, 10, 45)
    assert SHOP.add(start, 0) == start.astimezone(UTC)


def test_due_on_closing_instant_is_that_instant() -> None:
    assert SHOP.add(sofia(2026, 12, 1, 12, 0), H) == sofia(2026, 12, 1, 13, 0)


def test_never_opens() -> None:
    shut = Hours(SOFIA, {}, frozenset(), {date(2026, 12, 2): [(time(9), time(10))]})
    assert shut.next_open(sofia(2026, 12, 1, 0, 0)) == sofia(2026, 12, 2, 9, 0)
    assert shut.next_open(sofia(2026, 12, 2, 10, 0)) is None
    assert not shut.is_open(sofia(2027, 1, 1, 12, 0))
    with pytest.raises(NeverOpens):
        shut.add(sofia(2026, 12, 2, 9, 30), H)
    assert shut.elapsed(sofia(2026, 12, 1, 0, 0), sofia(2027, 12, 1, 0, 0)) == H


def test_interval_to_midnight_and_across_midnight() -> None:
    late = Hours(SOFIA, {4: [(time(20), time(0))], 5: [(time(22), time(2))]})
    # Friday 4 December 2026: 20:00-24:00; Saturday 22:00 - Sunday 02:00.
    assert late.is_open(sofia(2026, 12, 4, 23, 59, 59))
    assert not late.is_open(sofia(2026, 12, 5, 0, 0))
    assert late.is_open(sofia(2026, 12, 6, 1, 30))
    assert not late.is_open(sofia(2026, 12, 6, 2, 0))
    assert late.elapsed(sofia(2026, 12, 4, 0, 0), sofia(2026, 12, 7, 0, 0)) == 8 * H
    assert late.next_close(sofia(2026, 12, 5, 23, 0)) == sofia(2026, 12, 6, 2, 0)


def test_cross_midnight_interval_merges_with_the_next_morning() -> None:
    nights = Hours(SOFIA, {0: [(time(20), time(2))], 1: [(time(0), time(8))]})
    assert nights.next_close(sofia(2026, 11, 30, 21, 0)) == sofia(2026, 12, 1, 8, 0)
    assert nights.elapsed(sofia(2026, 11, 30, 0, 0), sofia(2026, 12, 2, 0, 0)) == 12 * H


ALL_DAY = {d: [(time(0), time(0))] for d in range(7)}


@pytest.mark.parametrize(("zone", "day", "hours"), [
    (SOFIA, date(2026, 3, 29), 23), (SOFIA, date(2026, 10, 25), 25), (SOFIA, date(2026, 10, 24), 24),
    (BERLIN, date(2026, 3, 29), 23), (BERLIN, date(2026, 10, 25), 25),
])
def test_dst_days_have_their_true_length(zone: ZoneInfo, day: date, hours: int) -> None:
    clock = Hours(zone, ALL_DAY)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    assert clock.elapsed(start, end) == hours * H
    assert clock.add(start, hours * H) == end.astimezone(UTC)


def test_spring_forward_shift_loses_an_hour() -> None:
    # Sofia jumps from 03:00 EET to 04:00 EEST on Sunday 29 March 2026 (01:00 UTC).
    night = Hours(SOFIA, {6: [(time(1), time(6))]})
    assert night.elapsed(sofia(2026, 3, 29, 0, 0), sofia(2026, 3, 30, 0, 0)) == 4 * H
    assert night.add(sofia(2026, 3, 29, 1, 0), 2 * H) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 04:00 EEST
    # A boundary inside the skipped hour moves to the jump: "opens 03:30" opens at 04:00 new time.
    skipped = Hours(SOFIA, {6: [(time(3, 30), time(5))]})
    assert skipped.next_open(sofia(2026, 3, 29, 0, 0)) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert skipped.elapsed(sofia(2026, 3, 29, 0, 0), sofia(2026, 3, 30, 0, 0)) == H


def test_fall_back_shift_gains_an_hour() -> None:
    # Sofia goes back from 04:00 EEST to 03:00 EET on Sunday 25 October 2026 (01:00 UTC).
    night = Hours(SOFIA, {6: [(time(1), time(6))]})
    assert night.elapsed(sofia(2026, 10, 25, 0, 0), sofia(2026, 10, 26, 0, 0)) == 6 * H
    assert night.next_close(sofia(2026, 10, 25, 2, 0)) == datetime(2026, 10, 25, 4, 0, tzinfo=UTC)
    # An end in the repeated hour is its second occurrence: 01:00-03:30 lasts 3.5 h on that night.
    repeated = Hours(SOFIA, {6: [(time(1), time(3, 30))]})
    assert repeated.elapsed(sofia(2026, 10, 25, 0, 0), sofia(2026, 10, 26, 0, 0)) == 3.5 * H


def test_berlin_business_day_over_dst_weekend() -> None:
    week = Hours(BERLIN, {d: [(time(9), time(17))] for d in range(5)})
    # Friday 27 March 17:00 CET → Monday 30 March 09:00 CEST: zero open seconds, next open on Monday.
    friday = datetime(2026, 3, 27, 17, 0, tzinfo=BERLIN)
    monday = datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN)
    assert week.next_open(friday) == monday.astimezone(UTC)
    assert week.add(friday - timedelta(hours=1), 2 * H) == (monday + timedelta(hours=1)).astimezone(UTC)


def test_around_the_clock_calendar_stays_finite() -> None:
    always = Hours(SOFIA, ALL_DAY)
    start = sofia(2026, 12, 1, 10, 0)
    assert always.is_open(start)
    assert always.next_close(start) is None
    assert always.add(start, 30 * 24 * H) == (start + timedelta(days=30)).astimezone(UTC)


def test_overlapping_intervals_around_the_clock_count_once() -> None:
    overlapping = Hours(SOFIA, {d: [(time(0), time(0)), (time(22), time(2))] for d in range(7)})
    start = sofia(2026, 12, 1, 0, 0)
    assert overlapping.elapsed(start, start + timedelta(days=20)) == 20 * 24 * H
    assert overlapping.add(start, 20 * 24 * H) == (start + timedelta(days=20)).astimezone(UTC)
    assert overlapping.next_close(start) is None


def _reference_open(hours: Hours, at: datetime) -> bool:
    """Minute-level reference outside DST changes: the local wall time lies in an interval of its own date, or in a
    past-midnight interval of the day before."""
    local = at.astimezone(hours.zone).replace(tzinfo=None)
    for back in (0, 1):
        day = local.date() - timedelta(days=back)
        for opens, closes in hours.intervals_on(day):
            start = datetime.combine(day, opens)
            end = datetime.combine(day + timedelta(days=1) if closes <= opens else day, closes)
            if start <= local < end:
                return True
    return False


@pytest.mark.parametrize("seed", range(12))
def test_random_calendars_match_a_minute_by_minute_reference(seed: int) -> None:
    import random

    rnd = random.Random(seed)

    def intervals() -> list[tuple[time, time]]:
        marks = sorted(rnd.sample(range(0, 96), rnd.choice((0, 2, 2, 4, 4, 6))))
        pairs = [(marks[i], marks[i + 1]) for i in range(0, len(marks), 2)]
        if rnd.random() < 0.2:  # an interval that runs past midnight
            pairs.append((rnd.randrange(80, 96), rnd.randrange(1, 16)))
        return [(time(a // 4, a % 4 * 15), time(b // 4 % 24, b % 4 * 15)) for a, b in pairs]

    first = date(2026, 11, 2)
    days = [first + timedelta(days=i) for i in range(40)]
    hours = Hours(SOFIA, {d: intervals() for d in range(7)},
                  frozenset(rnd.sample(days, 4)), {d: intervals() for d in rnd.sample(days, 4)})
    start = datetime.combine(first + timedelta(days=2), time(0), tzinfo=SOFIA)
    minutes = [start + timedelta(minutes=m) for m in range(0, 60 * 24 * 21, 15)]
    flags = [_reference_open(hours, m) for m in minutes]
    for m, flag in zip(minutes, flags, strict=True):
        assert hours.is_open(m) == flag, m
    for _ in range(20):
        i, j = sorted(rnd.sample(range(len(minutes)), 2))
        assert hours.elapsed(minutes[i], minutes[j]) == sum(flags[i:j]) * 15 * 60
        if sum(flags[i:j]):
            due = hours.add(minutes[i], sum(flags[i:j]) * 15 * 60)
            assert hours.elapsed(minutes[i], due) == sum(flags[i:j]) * 15 * 60 and due <= minutes[j]
        opened = hours.next_open(minutes[i])
        expected = next((m for m, f in zip(minutes[i:], flags[i:], strict=True) if f), None)
        if expected is not None:
            assert opened == expected.astimezone(UTC)
