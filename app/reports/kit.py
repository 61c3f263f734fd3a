"""The report kit: what every report is made of (columns, rows, totals, chart), the period it covers, the registry the
generic routes serve from, and the CSV that matches the table and chart exactly.

A report module builds a `Report` from the fact tables (app.reports.tables) and registers a `ReportSpec`; the routes
in app.reports.api / views serve every registered report the same way (JSON, CSV, page, drill-down)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from app.lib import i18n, money
from app.lib.errors import Invalid

KINDS = ("text", "int", "seconds", "percent", "money", "datetime")
DEFAULT_DAYS = 7
MAX_DAYS = 400
"""The longest period a report may cover (a bit over a year: year-on-year views)."""


@dataclass(frozen=True)
class Column:
    key: str
    """Row dict key."""
    label: str
    """msgid, translated when rendered."""
    kind: str = "int"
    """text | int | seconds | percent | money | datetime"""
    formula: str = ""
    """msgid of the formula printed on hover and on the page, e.g. "(talk + hold + wrap) ÷ handled"."""
    drill: bool = False
    """Clicking a cell opens the rows behind it (GET .../reports/{name}/drill)."""


@dataclass
class Report:
    name: str
    title: str
    """msgid"""
    columns: list[Column]
    rows: list[dict[str, Any]]
    """One per group; each has "key" (str, stable id of the group for drill) and "label"."""
    totals: dict[str, Any]
    chart: dict[str, Any]
    """{"type": "bar"|"line", "x": column key, "series": [column keys]}"""
    notes: list[str] = field(default_factory=list)
    """msgids: what is missing, how a figure is computed."""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Period:
    """From/to are dates in the workspace's zone, both inclusive; start/end are the UTC bounds [start, end)."""

    first: dt.date
    last: dt.date
    zone: str
    start: dt.datetime
    end: dt.datetime

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def _midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def _date(raw: str, field_name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise Invalid("%(name)s must be a date like 2026-12-01.", field=field_name, name=field_name) from None


def period(first: str | None, last: str | None, zone: str, *, today: dt.date | None = None) -> Period:
    """The period of a report request: dates in `zone`, both inclusive. Default: the last 7 days up to today."""
    tz = ZoneInfo(zone)
    today = today or dt.datetime.now(tz).date()
    last_day = _date(last, "to") if last else today
    first_day = _date(first, "from") if first else last_day - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first_day > last_day:
        raise Invalid("The period starts after it ends: %(first)s is after %(last)s.", field="from",
                      first=first_day.isoformat(), last=last_day.isoformat())
    if (last_day - first_day).days + 1 > MAX_DAYS:
        raise Invalid("A report covers at most %(days)s days.", field="from", days=MAX_DAYS)
    return Period(first=first_day, last=last_day, zone=zone, start=_midnight(first_day, tz),
                  end=_midnight(last_day + dt.timedelta(days=1), tz))


Build = Callable[[Period, Mapping[str, str]], Awaitable[Report]]
Drill = Callable[[Period, Mapping[str, str], str, str], Awaitable[tuple[list[Column], list[dict[str, Any]]]]]


@dataclass(frozen=True)
class ReportSpec:
    name: str
    build: Build
    """build(period, params) -> Report; params are the extra query parameters (group, bucket, ...)."""
    drill: Drill
    """drill(period, params, row_key, column_key) -> the rows behind that number, each with a link "href"."""
    roles: str = "supervisor"
    """The lowest role that may see it (app.lib.roles.RANK)."""
    title: str = ""
    """msgid for the index of reports (the built report carries its own title too)."""
    description: str = ""
    """msgid: one line under the title in the index of reports."""
    groups: tuple[str, ...] = ()
    """The `group` choices the report page offers (the first is the default); none: no selector."""
    buckets: tuple[str, ...] = ()
    """The `bucket` choices the report page offers besides the whole period."""


REPORTS: dict[str, ReportSpec] = {}


def register(spec: ReportSpec) -> ReportSpec:
    """Make a report served by the generic routes; a name registered twice is refused."""
    if spec.name in REPORTS and REPORTS[spec.name] is not spec:
        raise ValueError(f"report {spec.name!r} is registered twice")
    REPORTS[spec.name] = spec
    return spec


def cell(value: Any, kind: str, currency: str = "") -> str:
    """A value as the CSV writes it: numbers plain (seconds as integers, percents with one decimal), None empty.
    Money with a `currency` (the row's "currency" key) is integer minor units, written exactly in major units
    ("130.00", JPY "1300", KWD "1.300")."""
    if value is None:
        return ""
    if kind == "percent":
        return f"{float(value):.1f}"
    if kind == "seconds":
        return str(round(float(value)))
    if kind == "money" and currency:
        return money.major(int(value), currency)
    if kind == "money":
        return f"{float(value):.2f}"
    if kind == "datetime" and isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return str(value)


def _csv(columns: Iterable[Column], rows: Iterable[Mapping[str, Any]], totals: Mapping[str, Any] | None,
         label_key: str | None) -> str:
    cols = list(columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.key for c in cols])
    for row in rows:
        writer.writerow([cell(row.get(c.key), c.kind, row.get("currency", "")) for c in cols])
    if totals is not None:
        writer.writerow([("total" if c.key == label_key else cell(totals.get(c.key), c.kind,
                                                                  totals.get("currency", ""))) for c in cols])
    return out.getvalue()


def to_csv(report: Report) -> str:
    """Exactly the rows and columns of the chart and table, then a totals line (its label cell says "total")."""
    label_key = next((c.key for c in report.columns if c.key == "label"), report.columns[0].key if report.columns
                     else None)
    return _csv(report.columns, report.rows, report.totals, label_key)


def drill_csv(columns: list[Column], rows: list[dict[str, Any]]) -> str:
    return _csv(columns, rows, None, None)


def columns_json(columns: Iterable[Column]) -> list[dict[str, Any]]:
    """Columns as the JSON answers carry them: label and formula in the caller's language."""
    return [{**dataclasses.asdict(c), "label": i18n.gettext(c.label),
             "formula": i18n.gettext(c.formula) if c.formula else ""} for c in columns]


def as_json(report: Report, period_: Period) -> dict[str, Any]:
    """The JSON answer of `GET /api/v1/reports/{name}` (labels and formulas translated by the caller's catalogue)."""
    return {"name": report.name, "title": i18n.gettext(report.title), "from": period_.first.isoformat(),
            "to": period_.last.isoformat(), "zone": period_.zone,
            "columns": columns_json(report.columns),
            "rows": report.rows, "totals": report.totals, "chart": report.chart,
            "notes": [i18n.gettext(n) for n in report.notes], "params": report.params}
