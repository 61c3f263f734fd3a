"""The queue service report read from the rollups equals the figures counted visit by visit (issue 18): a randomized
set of queue visits over a week of Europe/Sofia (across its DST night, with visits before and after the period),
waits of every length (under and over 5 minutes, exact longest waits over an hour), callbacks on answered and
abandoned visits, still waiting; every group and bucket, each formula with random thresholds T and short; and the
drill-down rows add up to the numbers."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.lib.db import current_uow, tenant_context
from app.lib.errors import Invalid
from app.reports import kit, queues, rollups, service_level
from tests.conftest import ShopFixture

ZONE = "Europe/Sofia"
FIRST, LAST = "2026-10-22", "2026-10-27"
OUTCOMES = ("waiting", "answered", "answered", "answered", "abandoned", "abandoned", "callback", "overflowed",
            "transferred", "closed")


def _visits(seed: int, n: int) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    start = dt.datetime(2026, 10, 20, 12, tzinfo=dt.UTC)
    rows = []
    for i in range(n):
        entered = start + dt.timedelta(seconds=rng.randrange(9 * 86400))
        outcome = rng.choice(OUTCOMES)
        wait = rng.choice((rng.randrange(0, 40), rng.randrange(0, 300), rng.randrange(280, 320),
                           rng.randrange(300, 4000), rng.randrange(3600, 9000)))
        callback = outcome == "callback" or (outcome in ("answered", "abandoned") and rng.random() < 0.15)
        left = entered + dt.timedelta(seconds=wait)
        rows.append((i + 1, None, rng.choice(("call", "chat", "sms")), rng.choice((1, 2, 3)), entered,
                     left if outcome == "answered" else None, rng.choice((None, 7)) if outcome == "answered" else None,
                     None if outcome == "waiting" else left, outcome, None if outcome == "waiting" else wait,
                     callback))
    return rows


def _label(bucket: str, at: dt.datetime) -> str:
    local = at.astimezone(ZoneInfo(ZONE))
    if bucket == "hour":
        return local.strftime("%Y-%m-%d %H:00")
    if bucket == "month":
        return local.strftime("%Y-%m")
    if bucket == "week":
        return (local.date() - dt.timedelta(days=local.weekday())).isoformat()
    return local.date().isoformat()


def _expected(rows: list[tuple[Any, ...]], p: kit.Period, group: str, bucket: str, t: int,
              short: int) -> dict[tuple[str, str | None], dict[str, Any]]:
    """COUNT_KEYS per (group key, bucket label), counted visit by visit in Python."""
    out: dict[tuple[str, str | None], dict[str, Any]] = {}
    for (_, _, channel, queue, entered, _, _, _, outcome, wait, callback) in rows:
        if not p.start <= entered < p.end or outcome == "waiting":
            continue
        key = (str(queue) if group == "queue" else channel, _label(bucket, entered) if bucket else None)
        c = out.setdefault(key, dict.fromkeys(queues.COUNT_KEYS, 0))
        answered = outcome == "answered" and not callback
        abandoned = outcome == "abandoned" and not callback
        c["offered"] += 1
        c["answered"] += answered
        c["abandoned"] += abandoned
        c["short_abandons"] += abandoned and wait <= short
        c["callbacks"] += callback
        c["answered_within"] += answered and wait <= t
        c["abandoned_within"] += abandoned and wait <= t
        c["abandoned_after"] += abandoned and wait > t
        c["answered_wait"] += wait if answered else 0
        c["longest_wait"] = max(c["longest_wait"], wait)
    return out


FIGURES = ("offered", "answered", "abandoned", "short_abandons", "callbacks", "service_level", "asa", "longest_wait",
           "abandon_rate")


@pytest.mark.parametrize(("seed", "first", "last"), [(18, FIRST, LAST), (1825, "2026-09-30", "2026-11-01")])
async def test_the_report_from_rollups_equals_the_visits_counted_one_by_one(fx_shop: ShopFixture, seed: int,
                                                                            first: str, last: str) -> None:
    """The week of the DST night (whole days and 15-minute edges), and a period around the whole of October (the
    monthly rows, a day before them, 15-minute edges)."""
    rows = _visits(seed, 1500)
    rng = random.Random(seed)
    async with tenant_context(fx_shop.tenant):
        conn = current_uow().connection
        await conn.copy_records_to_table(
            "report_queue_visit", records=rows,
            columns=["conversation", "contact", "channel", "queue", "entered_at", "answered_at", "answered_by",
                     "left_at", "outcome", "wait_seconds", "callback"])
        await rollups.rebuild_all()
    p = kit.period(first, last, ZONE)
    assert p.start.minute == 0 and p.start.hour == 21  # the period starts mid-UTC-day: day rows and edges
    checked = 0
    for formula in service_level.FORMULAS:
        t = rng.randrange(1, service_level.MAX_SECONDS + 1)
        short = rng.randrange(0, t)
        async with tenant_context(fx_shop.tenant):
            await current_uow().connection.execute(
                "INSERT INTO report_settings (id, service_level_formula, service_level_seconds, short_abandon_seconds)"
                " VALUES (1, $1, $2, $3) ON CONFLICT (id) DO UPDATE SET service_level_formula = $1, "
                "service_level_seconds = $2, short_abandon_seconds = $3", formula, t, short)
        for group in queues.GROUPS:
            for bucket in queues.BUCKETS:
                async with tenant_context(fx_shop.tenant):
                    report = await queues.build(p, {"group": group, "bucket": bucket})
                expected = _expected(rows, p, group, bucket, t, short)
                got = {(r["group"], r["bucket"]): {k: r[k] for k in FIGURES} for r in report.rows}
                want = {k: {f: queues._figures(c, formula)[f] for f in FIGURES} for k, c in expected.items()}
                assert got == want, (formula, t, short, group, bucket)
                totals = {k: sum(c[k] for c in expected.values()) for k in queues.COUNT_KEYS}
                totals["longest_wait"] = max(c["longest_wait"] for c in expected.values())
                assert {f: report.totals[f] for f in FIGURES} == {
                    f: queues._figures(totals, formula)[f] for f in FIGURES}, (formula, group, bucket)
                checked += len(got)
    assert checked > 500
    assert max(w for *_, o, w, _ in rows if o != "waiting") > 3600  # longest waits beyond the 60 s bins


async def test_drill_rows_add_up_to_the_rollup_numbers(fx_shop: ShopFixture) -> None:
    rows = _visits(7, 600)
    async with tenant_context(fx_shop.tenant):
        await current_uow().connection.copy_records_to_table(
            "report_queue_visit", records=rows,
            columns=["conversation", "contact", "channel", "queue", "entered_at", "answered_at", "answered_by",
                     "left_at", "outcome", "wait_seconds", "callback"])
        await rollups.rebuild_all()
        p = kit.period(FIRST, LAST, ZONE)
        for params in ({"group": "queue"}, {"group": "channel", "bucket": "day"}):
            report = await queues.build(p, params)
            for row in [*report.rows, report.totals]:
                for column in queues.DRILLABLE:
                    _, drilled = await queues.drill(p, params, row["key"], column)
                    assert len(drilled) == row[column], (params, row["key"], column)


def test_thresholds_stay_under_five_minutes() -> None:
    with pytest.raises(Invalid, match="5 minutes"):
        service_level._check(service_level.SettingsIn(service_level_seconds=300, short_abandon_seconds=5))
    assert service_level._check(service_level.SettingsIn(service_level_seconds=299, short_abandon_seconds=298))
