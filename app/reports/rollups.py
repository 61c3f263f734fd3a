"""15-minute rollups of the facts: per bucket x queue x agent x channel x metric, a count, a sum and a histogram.

Reports over long periods read these rows instead of the facts, and for the whole UTC days and months inside a period
their sums (report_rollup_day, report_rollup_month; app.reports.deltas keeps all of them live). Histogram bins:
1 second under 5 minutes, 10 seconds under 30 minutes, 60 seconds beyond; a bin is named by its lower edge. Medians
and P90 are nearest-rank percentiles over the bins: exact for values under 5 minutes, to the bin's lower edge above.

Metrics (the time a fact counts at, the agent it counts for, the value summed and binned):
- legs at ended_at, their agent: `handle` (talk + hold + wrap; binned), `transfer` (count of legs handed on).
  Talk, hold and wrap apart are read from the legs (the drill-down); rollups keep what the reports aggregate.
- conversations: `first_response`, `first_response_bh` at first_response_at for the responder; `resolution`,
  `resolution_bh` at resolved_at for the resolving agent (binned).
- offers at offered_at, their agent: `offer_accepted`, `offer_rejected`, `offer_timeout`, `offer_withdrawn`.
- queue visits at entered_at (agent: who answered, else 0): `queue_offered` (every visit), and one per outcome:
  `queue_answered`, `queue_abandoned`, `queue_callback`, `queue_overflowed`, `queue_transferred`, `queue_closed`
  (value and bins: the wait in seconds; `queue_waiting` while still waiting, no value).
- queue visits that left the queue, for the queue service report (app.reports.queues), at entered_at: `svc_left`
  (every one; value: minus the wait, so that its bins are whole seconds at any length (every negative value is
  under 5 minutes) and its lowest bin is exactly minus the longest wait), `svc_answered` and `svc_abandoned` (taken
  or abandoned without a callback asked for; the wait), `svc_callback` (a callback was asked for, whatever came
  next; no value). Thresholds up to 299 s are exact from their 1-second bins.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.lib.db import current_uow

BUCKET = dt.timedelta(minutes=15)
SERVICE = ("svc_left", "svc_answered", "svc_abandoned")
"""The queue service report's binned metrics (see the module's docstring)."""
BINNED = ("handle", "first_response", "first_response_bh", "resolution", "resolution_bh", "queue_answered",
          "queue_abandoned", "queue_callback", "queue_overflowed", "queue_transferred", "queue_closed",
          *SERVICE)
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def bucket_of(at: dt.datetime) -> dt.datetime:
    """The start of the 15-minute bucket (UTC) that `at` falls in."""
    return at - (at - EPOCH) % BUCKET


def bin_of(seconds: int) -> int:
    if seconds < 300:
        return seconds
    if seconds < 1800:
        return seconds - seconds % 10
    return seconds - seconds % 60


def percentile(hist: Mapping[int, int], share: float) -> int | None:
    """Nearest-rank percentile of a histogram {bin: count}: the smallest bin with at least `share` of the values at
    or below it (None when empty)."""
    total = sum(hist.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(share * total))
    seen = 0
    for value in sorted(hist):
        seen += hist[value]
        if seen >= rank:
            return value
    return None


_VALUES = """
    SELECT b.bucket, l.queue, l.agent, l.channel, m.metric, m.value
    FROM b JOIN report_agent_leg l ON l.ended_at >= b.bucket AND l.ended_at < b.bucket + interval '15 minutes'
    CROSS JOIN LATERAL (VALUES ('handle', l.talk_seconds + l.hold_seconds + l.wrap_seconds)) AS m(metric, value)
    UNION ALL
    SELECT b.bucket, l.queue, l.agent, l.channel, 'transfer', NULL
    FROM b JOIN report_agent_leg l ON l.ended_at >= b.bucket AND l.ended_at < b.bucket + interval '15 minutes'
    WHERE l.transferred_out
    UNION ALL
    SELECT b.bucket, c.queue, coalesce(c.responder, 0), c.channel, m.metric, m.value
    FROM b JOIN report_conversation c ON c.first_response_at >= b.bucket
        AND c.first_response_at < b.bucket + interval '15 minutes'
    CROSS JOIN LATERAL (VALUES ('first_response', c.first_response_seconds),
                               ('first_response_bh', c.first_response_bh_seconds)) AS m(metric, value)
    UNION ALL
    SELECT b.bucket, c.queue, coalesce(c.agent, 0), c.channel, m.metric, m.value
    FROM b JOIN report_conversation c ON c.resolved_at >= b.bucket AND c.resolved_at < b.bucket + interval '15 minutes'
    CROSS JOIN LATERAL (VALUES ('resolution', c.resolution_seconds),
                               ('resolution_bh', c.resolution_bh_seconds)) AS m(metric, value)
    UNION ALL
    SELECT b.bucket, o.queue, o.agent, o.channel, 'offer_' || o.outcome, NULL
    FROM b JOIN report_offer o ON o.offered_at >= b.bucket AND o.offered_at < b.bucket + interval '15 minutes'
    WHERE o.outcome <> 'pending'
    UNION ALL
    SELECT b.bucket, v.queue, coalesce(v.answered_by, 0), v.channel, m.metric, m.value
    FROM b JOIN report_queue_visit v ON v.entered_at >= b.bucket AND v.entered_at < b.bucket + interval '15 minutes'
    CROSS JOIN LATERAL (VALUES ('queue_offered', NULL::integer), ('queue_' || v.outcome, v.wait_seconds))
        AS m(metric, value)
    UNION ALL
    SELECT b.bucket, v.queue, coalesce(v.answered_by, 0), v.channel, m.metric, m.value
    FROM b JOIN report_queue_visit v ON v.entered_at >= b.bucket AND v.entered_at < b.bucket + interval '15 minutes'
    CROSS JOIN LATERAL (VALUES ('svc_left', -v.wait_seconds),
                               (CASE WHEN v.callback THEN 'svc_callback'
                                     WHEN v.outcome IN ('answered', 'abandoned') THEN 'svc_' || v.outcome END,
                                CASE WHEN NOT v.callback THEN v.wait_seconds END)) AS m(metric, value)
    WHERE v.outcome <> 'waiting' AND m.metric IS NOT NULL
"""

_REFRESH = f"""
WITH b AS (SELECT DISTINCT unnest($1::timestamptz[]) AS bucket),
v AS ({_VALUES}),
binned AS (
    SELECT bucket, queue, agent, channel, metric,
           CASE WHEN value IS NULL OR NOT (metric = ANY($2::varchar[])) THEN NULL
                WHEN value < 300 THEN value WHEN value < 1800 THEN value - value % 10
                ELSE value - value % 60 END AS bin,
           count(*) AS n, sum(value) AS s
    FROM v GROUP BY 1, 2, 3, 4, 5, 6)
INSERT INTO report_rollup (bucket, queue, agent, channel, metric, count, sum, hist)
SELECT bucket, queue, agent, channel, metric, sum(n), coalesce(sum(s), 0),
       coalesce(jsonb_object_agg(bin::text, n) FILTER (WHERE bin IS NOT NULL), '{{}}'::jsonb)
FROM binned GROUP BY 1, 2, 3, 4, 5
"""  # noqa: S608 (constants)


_ALL_VALUES = re.sub(
    r"FROM b JOIN (report_\w+) (\w) ON \2\.(\w+) >= b\.bucket\s+AND \2\.\3 < b\.bucket \+ interval '15 minutes'",
    r"FROM \1 \2 JOIN LATERAL (SELECT date_bin('15 minutes', \2.\3, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket) b "
    r"ON \2.\3 IS NOT NULL", _VALUES)
"""The same values for every bucket at once (the rebuild): one pass over each fact table, no join per bucket."""
assert _ALL_VALUES.count("date_bin") == _VALUES.count("FROM b JOIN"), "every fact table of _VALUES is rewritten"
_REBUILD = _REFRESH.replace("WITH b AS (SELECT DISTINCT unnest($1::timestamptz[]) AS bucket),\n", "WITH ").replace(
    _VALUES, _ALL_VALUES).replace("$2::varchar[]", "$1::varchar[]")


_DAYS = """
INSERT INTO report_rollup_day (day, queue, agent, channel, metric, count, sum, hist)
SELECT day, queue, agent, channel, metric, sum(c), sum(s),
       coalesce(jsonb_object_agg(bin, n) FILTER (WHERE bin IS NOT NULL), '{}'::jsonb)
FROM (
    SELECT (r.bucket AT TIME ZONE 'UTC')::date AS day, r.queue, r.agent, r.channel, r.metric, NULL::text AS bin,
           sum(r.count) AS c, sum(r.sum) AS s, NULL::bigint AS n
    FROM report_rollup r WHERE (r.bucket AT TIME ZONE 'UTC')::date = ANY($1::date[])
        AND r.bucket >= $2 AND r.bucket < $3
    GROUP BY 1, 2, 3, 4, 5
    UNION ALL
    SELECT (r.bucket AT TIME ZONE 'UTC')::date, r.queue, r.agent, r.channel, r.metric, e.key, 0, 0,
           sum(e.value::bigint)
    FROM report_rollup r CROSS JOIN LATERAL jsonb_each_text(r.hist) e
    WHERE (r.bucket AT TIME ZONE 'UTC')::date = ANY($1::date[]) AND r.bucket >= $2 AND r.bucket < $3
    GROUP BY 1, 2, 3, 4, 5, 6) x
GROUP BY 1, 2, 3, 4, 5
"""
_DAYS_ALL = _DAYS.replace(
    "(r.bucket AT TIME ZONE 'UTC')::date = ANY($1::date[])\n        AND r.bucket >= $2 AND r.bucket < $3",
    "true").replace(
    "WHERE (r.bucket AT TIME ZONE 'UTC')::date = ANY($1::date[]) AND r.bucket >= $2 AND r.bucket < $3", "")
"""Every day's rows from every 15-minute row (the rebuild)."""


@dataclass(frozen=True)
class Level:
    """A rollup level above the day: its rows are the daily rows summed per `unit` (a date_trunc unit) in `table`
    (column `column`, the unit's first day). Built by `rebuild_all`; kept live by app.reports.deltas (its LEVELS)."""

    table: str
    column: str
    unit: str

    @property
    def _select(self) -> str:
        return f"""
INSERT INTO {self.table} ({self.column}, queue, agent, channel, metric, count, sum, hist)
SELECT p, queue, agent, channel, metric, sum(c), sum(s),
       coalesce(jsonb_object_agg(bin, n) FILTER (WHERE bin IS NOT NULL), '{{}}'::jsonb)
FROM (
    SELECT date_trunc('{self.unit}', r.day::timestamp)::date AS p, r.queue, r.agent, r.channel, r.metric,
           NULL::text AS bin,
           sum(r.count) AS c, sum(r.sum) AS s, NULL::bigint AS n
    FROM report_rollup_day r WHERE <where>
    GROUP BY 1, 2, 3, 4, 5
    UNION ALL
    SELECT date_trunc('{self.unit}', r.day::timestamp)::date, r.queue, r.agent, r.channel, r.metric, e.key, 0, 0,
           sum(e.value::bigint)
    FROM report_rollup_day r CROSS JOIN LATERAL jsonb_each_text(r.hist) e WHERE <where>
    GROUP BY 1, 2, 3, 4, 5, 6) x
GROUP BY 1, 2, 3, 4, 5"""  # noqa: S608 (constants)

    @property
    def build_all(self) -> str:
        """Every row of the level from every daily row (the rebuild)."""
        return self._select.replace("<where>", "true")

LEVELS = (Level("report_rollup_month", "month", "month"),)
"""The levels above the daily rows, each summed from the daily rows (a report reads whole months from the monthly
rows, whole days from the daily rows, the edges from the 15-minute rows: `SOURCE`)."""


async def rebuild_all() -> int:
    """Every rollup row again from all the facts, in one pass (the rebuild; app.reports.deltas adds live changes)."""
    conn = current_uow().connection
    await conn.execute("DELETE FROM report_rollup")
    await conn.execute("DELETE FROM report_rollup_day")
    await conn.execute(_REBUILD, list(BINNED))
    await conn.execute(_DAYS_ALL)
    for level in LEVELS:
        await conn.execute(f"DELETE FROM {level.table}")  # noqa: S608 (constants)
        await conn.execute(level.build_all)
    return int(await conn.fetchval("SELECT count(DISTINCT bucket) FROM report_rollup"))


def split(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Where whole UTC days begin and end inside [start, end): the daily rows cover [first, last), the 15-minute
    rows the edges. first >= last: no whole day inside."""
    first = dt.datetime.combine(start.astimezone(dt.UTC).date(), dt.time(), tzinfo=dt.UTC)
    if first < start:
        first += dt.timedelta(days=1)
    last = dt.datetime.combine(end.astimezone(dt.UTC).date(), dt.time(), tzinfo=dt.UTC)
    if first >= last:
        return end, end  # no whole day: the 15-minute rows of [start, end) alone
    return first, last


_D5, _D6 = "($5 AT TIME ZONE 'UTC')::date", "($6 AT TIME ZONE 'UTC')::date"
_M1 = f"(date_trunc('month', ({_D5} - 1)::timestamp) + interval '1 month')::date"
"""The first month start on or after the first whole day."""
_M2 = f"date_trunc('month', {_D6}::timestamp)::date"
"""The last month start on or before the end of the whole days."""
_MONTHS = f"$5 < $6 AND {_M1} < {_M2}"
"""Whole months inside the whole days."""

SOURCE = f"""(
    SELECT agent, queue, channel, metric, count, sum, hist FROM report_rollup
    WHERE bucket >= $1 AND bucket < least($2::timestamptz, $5::timestamptz)
    UNION ALL
    SELECT agent, queue, channel, metric, count, sum, hist FROM report_rollup
    WHERE bucket >= greatest($1::timestamptz, $6::timestamptz) AND bucket < $2
    UNION ALL
    SELECT agent, queue, channel, metric, count, sum, hist FROM report_rollup_day
    WHERE $5 < $6 AND day >= {_D5} AND day < CASE WHEN {_MONTHS} THEN {_M1} ELSE {_D6} END
    UNION ALL
    SELECT agent, queue, channel, metric, count, sum, hist FROM report_rollup_day
    WHERE {_MONTHS} AND day >= {_M2} AND day < {_D6}
    UNION ALL
    SELECT agent, queue, channel, metric, count, sum, hist FROM report_rollup_month
    WHERE {_MONTHS} AND month >= {_M1} AND month < {_M2}
)"""  # noqa: S608 (constants)
"""The rollups of [$1, $2) as rows (agent, queue, channel, metric, count, sum, hist): monthly rows for the whole
months inside the whole UTC days [$5, $6) (see `split`), daily rows for the days before and after them, 15-minute
rows for the edges before and after the days (plain ranges of the primary keys: an OR of them would scan every
bucket in between)."""


async def all_buckets() -> list[dt.datetime]:
    """Every bucket any fact counts in (for the rebuild)."""
    rows = await current_uow().connection.fetch("""
        SELECT DISTINCT t FROM (
            SELECT entered_at AS t FROM report_queue_visit
            UNION ALL SELECT ended_at FROM report_agent_leg WHERE ended_at IS NOT NULL
            UNION ALL SELECT first_response_at FROM report_conversation WHERE first_response_at IS NOT NULL
            UNION ALL SELECT resolved_at FROM report_conversation WHERE resolved_at IS NOT NULL
            UNION ALL SELECT offered_at FROM report_offer) x""")
    return sorted({bucket_of(r["t"]) for r in rows})


def merge_hist(rows: Iterable[Mapping[str, Any]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for row in rows:
        out[int(row["bin"])] = out.get(int(row["bin"]), 0) + int(row["n"])
    return out
