"""Reports' pure rules (issue 18): the period of a DST day, nearest-rank percentiles over histogram bins, the bins
themselves, a conversation's steps replayed into queue visits and agent legs, and the CSV's shape."""

from __future__ import annotations

import datetime as dt

import pytest

from app.lib.errors import Invalid
from app.reports import kit, rollups
from app.reports.facts import Step, derive


def at(hms: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"2026-10-25T{hms}+00:00")


def test_a_period_is_local_days_and_the_dst_day_has_25_hours() -> None:
    p = kit.period("2026-10-25", "2026-10-25", "Europe/Sofia")
    assert p.start == dt.datetime(2026, 10, 24, 21, tzinfo=dt.UTC)
    assert p.end == dt.datetime(2026, 10, 25, 22, tzinfo=dt.UTC)
    assert (p.end - p.start) == dt.timedelta(hours=25)
    default = kit.period(None, None, "UTC", today=dt.date(2026, 12, 1))
    assert (default.first, default.last) == (dt.date(2026, 11, 25), dt.date(2026, 12, 1))
    with pytest.raises(Invalid):
        kit.period("2026-10-26", "2026-10-25", "UTC")
    with pytest.raises(Invalid):
        kit.period("yesterday", None, "UTC")


def test_nearest_rank_percentiles_and_bins() -> None:
    assert rollups.percentile({10: 1, 20: 1}, 0.5) == 10
    assert rollups.percentile({10: 1, 20: 1}, 0.9) == 20
    assert rollups.percentile({5: 1, 10: 1, 20: 1}, 0.5) == 10
    assert rollups.percentile({}, 0.5) is None
    assert [rollups.bin_of(s) for s in (0, 299, 305, 1799, 1805, 3661)] == [0, 299, 300, 1790, 1800, 3660]
    assert rollups.bucket_of(dt.datetime(2026, 10, 25, 6, 14, 59, tzinfo=dt.UTC)) == at("06:00:00")


def test_a_period_splits_into_whole_utc_days_and_edges_without_overlap() -> None:
    p = kit.period("2026-10-24", "2026-10-26", "Europe/Sofia")  # 2026-10-23 21:00 .. 2026-10-26 22:00 UTC
    assert rollups.split(p.start, p.end) == (dt.datetime(2026, 10, 24, tzinfo=dt.UTC),
                                             dt.datetime(2026, 10, 26, tzinfo=dt.UTC))
    day = kit.period("2026-10-25", "2026-10-25", "Europe/Sofia")  # no whole UTC day inside: no daily rows
    assert rollups.split(day.start, day.end) == (day.end, day.end)
    utc = kit.period("2026-10-25", "2026-10-25", "UTC")
    assert rollups.split(utc.start, utc.end) == (utc.start, utc.end)


def test_steps_replay_into_visits_and_legs_with_hold_transfer_and_wrap() -> None:
    steps = [Step("queued", at("08:00:00"), 1), Step("taken", at("08:00:10"), 1, 7),
             Step("hold", at("08:01:00")), Step("resume", at("08:01:40")),
             Step("taken", at("08:03:10"), 1, 8),  # a transfer to a colleague
             Step("ended", at("08:05:10")), Step("removed", at("08:05:40"), 1, detail="support")]
    d = derive(steps, at("09:00:00"))
    assert [(v.outcome, v.wait_seconds, v.answered_by) for v in d.visits] == [("answered", 10, 7)]
    first, second = d.legs
    assert (first.agent, first.talk_seconds, round(first.hold), first.transferred_out) == (7, 140, 40, True)
    assert (second.agent, second.talk_seconds, round(second.wrap), second.disposition) == (8, 120, 30, "support")
    assert d.transfers == 1


def test_callbacks_overflows_and_abandons_are_told_apart() -> None:
    d = derive([Step("queued", at("10:00:00"), 1), Step("overflowed", at("10:01:00"), 2),
                Step("callback", at("10:01:30")), Step("removed", at("10:02:00"), 2, detail="abandoned")],
               at("11:00:00"))
    assert [(v.queue, v.outcome, v.wait_seconds, v.callback) for v in d.visits] == [
        (1, "overflowed", 60, False), (2, "callback", 60, True)]
    d = derive([Step("queued", at("10:00:00"), 1), Step("removed", at("10:00:07"), 1, detail="abandoned")],
               at("11:00:00"))
    assert [(v.outcome, v.wait_seconds) for v in d.visits] == [("abandoned", 7)] and d.legs == []


def test_csv_is_the_rows_and_columns_plus_a_totals_line() -> None:
    report = kit.Report(name="x", title="X", columns=[kit.Column("label", "L", "text"), kit.Column("n", "N"),
                                                       kit.Column("aht", "AHT", "seconds"),
                                                       kit.Column("occ", "Occ", "percent")],
                        rows=[{"key": "1", "label": "Ann", "n": 2, "aht": 260.0, "occ": 6.73},
                              {"key": "2", "label": "Bob", "n": 0, "aht": None, "occ": None}],
                        totals={"key": "all", "label": "Total", "n": 2, "aht": 260.0, "occ": 6.73},
                        chart={"type": "bar", "x": "label", "series": ["n"]})
    assert kit.to_csv(report) == "label,n,aht,occ\nAnn,2,260,6.7\nBob,0,,\ntotal,2,260,6.7\n"
