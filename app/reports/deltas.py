"""Incremental rollup maintenance: what one conversation's facts add to the rollups, taken before and after its
facts are rewritten, and the difference applied to every rollup level (the live listener's path; the rebuild still
recomputes everything in one pass, app.reports.rollups.rebuild_all).

A conversation's contributions are the rows of `rollups._VALUES` (the single definition of what counts) for its
facts alone, grouped like the rollups: bucket x queue x agent x channel x metric, with a count, a sum and the
histogram bins. The difference after - before is added to each level's table in SQL (an upsert adding counts, sums
and bins, so two projections touching the same row never lose an update; rows are written in primary-key order, so
they never deadlock); a row whose count reaches 0 is deleted and a bin reaching 0 is removed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

from app.lib.db import current_uow
from app.reports import rollups

Key = tuple[dt.datetime, int, int, str, str]
"""bucket, queue, agent, channel, metric."""


@dataclasses.dataclass
class Cell:
    count: int = 0
    sum: float = 0.0
    bins: dict[int, int] = dataclasses.field(default_factory=dict)


Contributions = dict[Key, Cell]


@dataclasses.dataclass(frozen=True)
class Level:
    table: str
    column: str
    """The first column of the table's primary key (bucket, day, ...)."""
    of_bucket: str
    """SQL: that column's value for a 15-minute `bucket`."""
    type: str
    """That column's SQL type."""


LEVELS: tuple[Level, ...] = (
    Level("report_rollup", "bucket", "bucket", "timestamptz"),
    Level("report_rollup_day", "day", "(bucket AT TIME ZONE 'UTC')::date", "date"),
    Level("report_rollup_month", "month", "date_trunc('month', bucket AT TIME ZONE 'UTC')::date", "date"),
)
"""Every rollup level the deltas are applied to, finest first (a new level: one more entry here, and in the
rebuild)."""


_CONVERSATION_VALUES = re.sub(
    r"FROM b JOIN (report_\w+) (\w) ON \2\.(\w+) >= b\.bucket\s+AND \2\.\3 < b\.bucket \+ interval '15 minutes'",
    r"FROM \1 \2 JOIN LATERAL (SELECT date_bin('15 minutes', \2.\3, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket) b "
    r"ON \2.\3 IS NOT NULL AND \2.conversation = $1", rollups._VALUES)
"""`rollups._VALUES` for the facts of one conversation ($1), in whichever buckets they fall."""
assert _CONVERSATION_VALUES.count("conversation = $1") == rollups._VALUES.count("FROM b JOIN"), (
    "every fact table of _VALUES is filtered by the conversation")

_CONTRIBUTIONS = f"""
WITH v AS ({_CONVERSATION_VALUES})
SELECT bucket, queue, agent, channel, metric,
       CASE WHEN value IS NULL OR NOT (metric = ANY($2::varchar[])) THEN NULL
            WHEN value < 300 THEN value WHEN value < 1800 THEN value - value % 10
            ELSE value - value % 60 END AS bin,
       count(*) AS n, coalesce(sum(value), 0) AS s
FROM v GROUP BY 1, 2, 3, 4, 5, 6
"""  # noqa: S608 (constants)
"""The same binning as the rollups' rebuild (app.reports.rollups.bin_of)."""


async def contributions(conversation_id: int) -> Contributions:
    """What the conversation's current facts add to the 15-minute rollups."""
    out: Contributions = {}
    for r in await current_uow().connection.fetch(_CONTRIBUTIONS, conversation_id, list(rollups.BINNED)):
        cell = out.setdefault((r["bucket"], r["queue"], r["agent"], r["channel"], r["metric"]), Cell())
        cell.count += int(r["n"])
        cell.sum += float(r["s"])
        if r["bin"] is not None:
            cell.bins[int(r["bin"])] = cell.bins.get(int(r["bin"]), 0) + int(r["n"])
    return out


def difference(before: Contributions, after: Contributions) -> Contributions:
    """after - before, without the cells that did not change. Pure: unit-tested."""
    out: Contributions = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key, Cell()), after.get(key, Cell())
        bins = {b: new.bins.get(b, 0) - old.bins.get(b, 0) for b in old.bins.keys() | new.bins.keys()}
        cell = Cell(new.count - old.count, new.sum - old.sum, {b: n for b, n in bins.items() if n})
        if cell.count or cell.sum or cell.bins:
            out[key] = cell
    return out


_MERGE_HIST = """(
    SELECT coalesce(jsonb_object_agg(k, n) FILTER (WHERE n <> 0), '{{}}'::jsonb)
    FROM (SELECT k, sum(n::bigint) AS n FROM (SELECT * FROM jsonb_each_text({table}.hist)
                                             UNION ALL SELECT * FROM jsonb_each_text(excluded.hist)) e(k, n)
          GROUP BY k) x)"""

_APPLY = """
WITH d AS (
    SELECT * FROM unnest($1::timestamptz[], $2::int[], $3::int[], $4::varchar[], $5::varchar[], $6::bigint[],
                         $7::float8[], $8::int[], $9::bigint[])
        AS d(bucket, queue, agent, channel, metric, c, s, bin, n)),
g AS (
    SELECT {of_bucket} AS key, queue, agent, channel, metric, bin, sum(c) AS c, sum(s) AS s, sum(n) AS n
    FROM d GROUP BY 1, 2, 3, 4, 5, 6),
h AS (
    SELECT key, queue, agent, channel, metric, sum(c) AS c, sum(s) AS s,
           coalesce(jsonb_object_agg(bin::text, n) FILTER (WHERE bin IS NOT NULL AND n <> 0), '{{}}'::jsonb) AS hist
    FROM g GROUP BY 1, 2, 3, 4, 5)
INSERT INTO {table} ({column}, queue, agent, channel, metric, count, sum, hist)
SELECT key, queue, agent, channel, metric, c, s, hist FROM h
WHERE c <> 0 OR s <> 0 OR hist <> '{{}}'::jsonb
ORDER BY key, metric, agent, queue, channel
ON CONFLICT ({column}, metric, agent, queue, channel) DO UPDATE
SET count = {table}.count + excluded.count, sum = {table}.sum + excluded.sum, hist = {merge}
RETURNING {column} AS key, queue, agent, channel, metric, count
"""
"""Adds the deltas ($1..$9: one row per cell with its count and sum and no bin, one per changed bin with its n) to
one level's rows; answers the rows written, so that those whose count reached 0 are deleted."""

_DELETE = """
DELETE FROM {table} t USING unnest($1::{type}[], $2::int[], $3::int[], $4::varchar[], $5::varchar[])
    AS z(key, queue, agent, channel, metric)
WHERE t.{column} = z.key AND t.queue = z.queue AND t.agent = z.agent AND t.channel = z.channel
    AND t.metric = z.metric AND t.count <= 0
"""


async def apply(delta: Contributions) -> int:
    """Add `delta` to every rollup level; answers the number of 15-minute cells changed."""
    if not delta:
        return 0
    rows: list[tuple[Any, ...]] = []
    for key in sorted(delta):
        cell = delta[key]
        rows.append((*key, cell.count, cell.sum, None, 0))
        rows.extend((*key, 0, 0.0, b, n) for b, n in sorted(cell.bins.items()))
    columns = [list(c) for c in zip(*rows, strict=True)]
    conn = current_uow().connection
    for level in LEVELS:
        sql = _APPLY.format(table=level.table, column=level.column, of_bucket=level.of_bucket,
                            merge=_MERGE_HIST.format(table=level.table))
        emptied = [r for r in await conn.fetch(sql, *columns) if r["count"] <= 0]
        if emptied:
            await conn.execute(_DELETE.format(table=level.table, column=level.column, type=level.type),
                               *[list(c) for c in zip(*[tuple(r)[:5] for r in emptied], strict=True)])
    return len(delta)

