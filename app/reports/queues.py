"""The queue service report (`queues`): per queue or channel, by day/week/month/hour in the workspace's zone, how
many contacts were offered, answered, abandoned (short abandons apart, callbacks apart), the service level by the
tenant's formula (app.reports.service_level), ASA, longest wait, abandonment rate and the share of SLA clocks met.

The report over its whole period reads the rollups' `svc_*` metrics of the visits (app.reports.rollups: exact,
callbacks apart, the longest wait to the second) and `sla_clock`; per hour/day/week/month, the drill-down and
`service_today` read `report_queue_visit` (one row per wait in a queue, written by app.reports' listener). A visit
counts in the period and bucket it entered the queue in, once it has left the queue (still waiting: not yet).
`service_today(queue_id)` is the same arithmetic over the visits of the workspace's today, for the wallboard.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from app.accounts.services import workspace_zone
from app.lib import i18n
from app.lib.clock import now
from app.lib.db import current_tenant, current_uow
from app.lib.errors import Invalid, NotFound
from app.lib.i18n import N_
from app.lib.templates import word
from app.reports import rollups, service_level
from app.reports.kit import Column, Period, Report, ReportSpec, period, register

GROUPS = ("queue", "channel")
BUCKETS = ("", "hour", "day", "week", "month")
DRILLABLE = ("offered", "answered", "abandoned", "short_abandons", "callbacks")
TOTAL = "all"

OUTCOMES = {"answered": N_("answered"), "abandoned": N_("abandoned"), "callback": N_("callback requested"),
            "called_back": N_("called back"),
            "overflowed": N_("overflowed"), "transferred": N_("moved to another queue"),
            "closed": N_("closed while waiting")}

ABANDON_RATE = N_("abandoned ÷ offered (callbacks are not abandons)")
ASA = N_("Σ (answered at - entered queue) ÷ answered")
SLA_MET = N_("SLA clocks met ÷ (met + breached), by when they were met or breached")


def columns(formula: str) -> list[Column]:
    return [
        Column("label", N_("Queue"), "text"),
        Column("offered", N_("Offered"), formula=N_("contacts that entered the queue and left it (answered, "
                                                    "abandoned, callback, moved or closed)"), drill=True),
        Column("answered", N_("Answered"), formula=N_(
            "taken by an agent while waiting (a caller called back later counts as a callback)"), drill=True),
        Column("abandoned", N_("Abandoned"), formula=N_("left the queue before an answer, without asking for a "
                                                        "callback"), drill=True),
        Column("short_abandons", N_("Short abandons"), formula=N_("abandoned within the short-abandon threshold"),
               drill=True),
        Column("callbacks", N_("Callbacks"), formula=N_("asked to be called back while waiting"), drill=True),
        Column("service_level", N_("Service level"), "percent", formula=service_level.FORMULAS[formula]),
        Column("asa", N_("ASA"), "seconds", formula=ASA),
        Column("longest_wait", N_("Longest wait"), "seconds", formula=N_("the longest wait of a contact that left "
                                                                          "the queue")),
        Column("abandon_rate", N_("Abandonment rate"), "percent", formula=ABANDON_RATE),
        Column("sla_met", N_("SLA met"), "percent", formula=SLA_MET),
    ]


def _choice(params: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = (params.get(name) or default).strip()
    if value not in choices:
        raise Invalid("%(name)s must be one of %(choices)s.", field=name, name=name,
                      choices=", ".join(c for c in choices if c))
    return value


def _group_sql(group: str) -> str:
    return "v.queue::text" if group == "queue" else "v.channel"


ANSWERED_SQL = "v.outcome = 'answered' AND NOT v.callback"
"""Answered while waiting: a caller who asked for a callback counts under callbacks, whatever happened next."""
ABANDONED_SQL = "v.outcome = 'abandoned' AND NOT v.callback"
_COUNTS = (
    "count(*) AS offered, "
    f"count(*) FILTER (WHERE {ANSWERED_SQL}) AS answered, "
    f"count(*) FILTER (WHERE {ABANDONED_SQL}) AS abandoned, "
    f"count(*) FILTER (WHERE {ABANDONED_SQL} AND v.wait_seconds <= $4) AS short_abandons, "
    "count(*) FILTER (WHERE v.callback) AS callbacks, "
    f"count(*) FILTER (WHERE {ANSWERED_SQL} AND v.wait_seconds <= $3) AS answered_within, "
    f"count(*) FILTER (WHERE {ABANDONED_SQL} AND v.wait_seconds <= $3) AS abandoned_within, "
    f"count(*) FILTER (WHERE {ABANDONED_SQL} AND v.wait_seconds > $3) AS abandoned_after, "
    f"coalesce(sum(v.wait_seconds) FILTER (WHERE {ANSWERED_SQL}), 0)::bigint AS answered_wait, "
    "coalesce(max(v.wait_seconds), 0) AS longest_wait")
COUNT_KEYS = ("offered", "answered", "abandoned", "short_abandons", "callbacks", "answered_within", "abandoned_within",
              "abandoned_after", "answered_wait", "longest_wait")
"""What _COUNTS answers per row: sums add up across rows, `longest_wait` is their maximum."""
SERVICE_METRICS = ("svc_left", "svc_answered", "svc_abandoned", "svc_callback")
_VISITS = "FROM report_queue_visit v WHERE v.entered_at >= $1 AND v.entered_at < $2 AND v.outcome <> 'waiting'"


_ROLLUP_COUNTS = """
SELECT g, b,
       coalesce(sum(r.count) FILTER (WHERE r.metric = 'svc_left'), 0)::bigint AS offered,
       coalesce(sum(r.count) FILTER (WHERE r.metric = 'svc_answered'), 0)::bigint AS answered,
       coalesce(sum(r.count) FILTER (WHERE r.metric = 'svc_abandoned'), 0)::bigint AS abandoned,
       coalesce(sum(r.within) FILTER (WHERE r.metric = 'svc_abandoned'), 0)::bigint AS abandoned_within,
       coalesce(sum(r.count - coalesce(r.within, 0)) FILTER (WHERE r.metric = 'svc_abandoned'), 0)::bigint
           AS abandoned_after,
       coalesce(sum(r.short) FILTER (WHERE r.metric = 'svc_abandoned'), 0)::bigint AS short_abandons,
       coalesce(sum(r.count) FILTER (WHERE r.metric = 'svc_callback'), 0)::bigint AS callbacks,
       coalesce(sum(r.within) FILTER (WHERE r.metric = 'svc_answered'), 0)::bigint AS answered_within,
       coalesce(sum(r.sum) FILTER (WHERE r.metric = 'svc_answered'), 0)::bigint AS answered_wait,
       coalesce(-min(r.lowest) FILTER (WHERE r.metric = 'svc_left'), 0)::integer AS longest_wait
FROM (SELECT {group} AS g, {bucket} AS b, r.metric, r.count, r.sum,
             CASE WHEN r.metric <> 'svc_left' THEN
                 (SELECT sum((r.hist ->> k::text)::bigint) FROM generate_series(0, $3::int) k) END AS within,
             CASE WHEN r.metric = 'svc_abandoned' THEN
                 (SELECT sum((r.hist ->> k::text)::bigint) FROM generate_series(0, $4::int) k) END AS short,
             CASE WHEN r.metric = 'svc_left' THEN (SELECT min(k::int) FROM jsonb_object_keys(r.hist) k) END AS lowest
      FROM {source} r.metric = ANY($7::varchar[])) r
GROUP BY 1, 2 HAVING coalesce(sum(r.count) FILTER (WHERE r.metric = 'svc_left'), 0) > 0
ORDER BY 2 NULLS FIRST, 1
"""
"""A row's counts (COUNT_KEYS) from the rollups' `svc_*` metrics: within T and short abandons from their 1-second
bins (both thresholds are under 300 s), the longest wait from the lowest bin of `svc_left` (minus the wait)."""


async def _rollup_counts(p: Period, group: str, t: int, short: int) -> list[dict[str, Any]]:
    """Per group key (`g`; `b` is null) the COUNT_KEYS of the visits that entered in [p.start, p.end) and left: the
    monthly rows for the whole UTC months, the daily rows for the other whole UTC days, the 15-minute rows for the
    edges (`rollups.SOURCE`)."""
    sql = _ROLLUP_COUNTS.format(group="r.queue::text" if group == "queue" else "r.channel", bucket="NULL::timestamp",
                                source=f"{rollups.SOURCE} r WHERE")
    return [dict(r) for r in await current_uow().connection.fetch(
        sql, p.start, p.end, t, short, *rollups.split(p.start, p.end), list(SERVICE_METRICS))]


def _figures(counts: Mapping[str, Any], formula: str) -> dict[str, Any]:
    """A row's numbers from its counts: the shares as percents with one decimal, ASA in seconds with one."""
    sl = service_level.service_level(formula, counts)
    answered, offered = counts["answered"], counts["offered"]
    return {
        "offered": offered, "answered": answered, "abandoned": counts["abandoned"],
        "short_abandons": counts["short_abandons"], "callbacks": counts["callbacks"],
        "service_level": None if sl is None else round(sl * 100, 1),
        "asa": round(counts["answered_wait"] / answered, 1) if answered else None,
        "longest_wait": counts["longest_wait"] if offered else None,
        "abandon_rate": round(counts["abandoned"] / offered * 100, 1) if offered else None,
    }


async def _labels(group: str) -> dict[str, str]:
    if group == "channel":
        return {}
    rows = await current_uow().connection.fetch("SELECT id, name FROM queue")
    return {str(r["id"]): word(r["name"]) for r in rows}


def _bucket_label(bucket: str, start: dt.datetime) -> str:
    if bucket == "hour":
        return start.strftime("%Y-%m-%d %H:00")
    if bucket == "month":
        return start.strftime("%Y-%m")
    return start.date().isoformat()


async def _sla(p: Period, group: str, bucket: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(group key, bucket label) → (clocks met in time, clocks breached) decided in the period."""
    group_sql = "k.queue::text" if group == "queue" else "c.channel"
    bucket_sql = f"date_trunc('{bucket}', k.decided AT TIME ZONE $3)" if bucket else "NULL::timestamp"
    rows = await current_uow().connection.fetch(
        f"SELECT {group_sql} AS g, {bucket_sql} AS b, count(*) FILTER (WHERE NOT k.breached) AS met, "  # noqa: S608
        "count(*) FILTER (WHERE k.breached) AS breached FROM ("
        "  SELECT s.conversation, coalesce(s.queue, 0) AS queue, s.breached_at IS NOT NULL AS breached, "
        "  coalesce(s.breached_at, s.met_at) AS decided FROM sla_clock s "
        "  WHERE s.breached_at IS NOT NULL OR s.met_at IS NOT NULL) k "
        "JOIN conversation c ON c.id = k.conversation "
        "WHERE k.decided >= $1 AND k.decided < $2 GROUP BY 1, 2", p.start, p.end, *([p.zone] if bucket else []))
    return {(r["g"] or "", _bucket_label(bucket, r["b"]) if r["b"] else ""): (r["met"], r["breached"]) for r in rows}


def _percent(met: int, breached: int) -> float | None:
    return round(met / (met + breached) * 100, 1) if met + breached else None


async def build(p: Period, params: Mapping[str, str]) -> Report:
    group = _choice(params, "group", GROUPS, "queue")
    bucket = _choice(params, "bucket", BUCKETS, "")
    settings = await service_level.get_settings()
    formula = settings["service_level_formula"]
    t, short = settings["service_level_seconds"], settings["short_abandon_seconds"]
    if bucket:  # per local hour/day/week/month: the visits (the 15-minute rows are about as many, and slower)
        bucket_sql = f"date_trunc('{bucket}', v.entered_at AT TIME ZONE $5)"
        rows = [dict(r) for r in await current_uow().connection.fetch(
            f"SELECT {_group_sql(group)} AS g, {bucket_sql} AS b, {_COUNTS} {_VISITS} "
            "GROUP BY 1, 2 ORDER BY 2 NULLS FIRST, 1", p.start, p.end, t, short, p.zone)]
    else:  # the whole period: the rollups (whole months, whole days, 15-minute edges)
        rows = await _rollup_counts(p, group, t, short)
    sla = await _sla(p, group, bucket)
    labels = await _labels(group)
    seen = {(r["g"], _bucket_label(bucket, r["b"]) if r["b"] else "") for r in rows}
    # A queue with SLA clocks decided in the period but no visit that entered it still gets its row.
    rows += [{"g": g, "when": when, **dict.fromkeys(COUNT_KEYS, 0)} for (g, when) in sorted(sla)
             if (g, when) not in seen]
    totals_counts = {k: sum(r[k] for r in rows) for k in COUNT_KEYS if k != "longest_wait"}
    totals_counts["longest_wait"] = max((r["longest_wait"] for r in rows), default=0)
    out: list[dict[str, Any]] = []
    for r in rows:
        when = r["when"] if "when" in r else (_bucket_label(bucket, r["b"]) if r["b"] else "")
        name = (labels.get(r["g"]) or "—") if group == "queue" else word(r["g"])
        met, breached = sla.get((r["g"], when), (0, 0))
        key = f"{r['g']}@{when.replace(' ', 'T')}" if when else r["g"]
        out.append({"key": key, "label": f"{name} · {when}" if when else name,
                    "group": r["g"], "bucket": when or None, **_figures(r, formula),
                    "sla_met": _percent(met, breached)})
    met_all = sum(m for m, _ in sla.values())
    breached_all = sum(b for _, b in sla.values())
    totals = {"key": TOTAL, "label": i18n.gettext("Total"), **_figures(totals_counts, formula),
              "sla_met": _percent(met_all, breached_all)}
    notes = [
        i18n.gettext("Service level: %(formula)s, with T = %(t)s s; a short abandon left within %(short)s s "
                     "(Settings → Service level).",
                     formula=i18n.gettext(service_level.FORMULAS[formula]), t=t, short=short),
        N_("A contact counts in the period and bucket it entered the queue in, once it has left the queue; "
           "a contact moved to another queue counts in both."),
        N_("SLA met comes from the conversations' SLA clocks met or breached in the period."),
    ]
    cols = columns(formula)
    cols[0] = Column("label", N_("Queue") if group == "queue" else N_("Channel"), "text")
    return Report(name="queues", title=N_("Queue service"), columns=cols, rows=out, totals=totals,
                  chart={"type": "bar", "x": "label", "series": ["answered", "abandoned", "callbacks"]},
                  notes=notes, params={"group": group, "bucket": bucket, "formula": formula,
                                       "service_level_seconds": t, "short_abandon_seconds": short})


DRILL_COLUMNS = [
    Column("conversation", N_("Conversation"), "int"),
    Column("contact", N_("Contact"), "text"),
    Column("queue", N_("Queue"), "text"),
    Column("channel", N_("Channel"), "text"),
    Column("entered_at", N_("Entered the queue"), "datetime"),
    Column("wait_seconds", N_("Waited"), "seconds"),
    Column("outcome", N_("Outcome"), "text"),
]

_DRILL_FILTERS = {
    "offered": "TRUE",
    "answered": ANSWERED_SQL,
    "abandoned": ABANDONED_SQL,
    "short_abandons": f"{ABANDONED_SQL} AND v.wait_seconds <= $3",
    "callbacks": "v.callback",
}


async def drill(p: Period, params: Mapping[str, str], row_key: str, column_key: str) -> tuple[
        list[Column], list[dict[str, Any]]]:
    """The visits behind one number: a row (`<queue id or channel>[@<bucket start: 2026-10-25, 2026-10,
    2026-10-25T03:00>]`, or `all`) and a count column."""
    group = _choice(params, "group", GROUPS, "queue")
    bucket = _choice(params, "bucket", BUCKETS, "")
    if column_key not in _DRILL_FILTERS:
        raise Invalid("The column %(column)s has no rows behind it; choose one of %(choices)s.", field="column",
                      column=repr(column_key), choices=", ".join(DRILLABLE))
    settings = await service_level.get_settings()
    where = [_DRILL_FILTERS[column_key]]
    args: list[Any] = [p.start, p.end, settings["short_abandon_seconds"], p.zone]
    if row_key != TOTAL:
        key, _, when = row_key.partition("@")
        args.append(key)
        where.append(f"{_group_sql(group)} = ${len(args)}")
        if when:
            if not bucket:
                raise NotFound("No row %(row)s in this report.", row=row_key)
            args.append(_parse_bucket(bucket, when))
            where.append(f"date_trunc('{bucket}', v.entered_at AT TIME ZONE $4) = ${len(args)}")
    rows = await current_uow().connection.fetch(
        "SELECT v.conversation, v.contact, v.queue, v.channel, v.entered_at, v.wait_seconds, v.outcome, v.callback, "
        "q.name AS queue_name, ct.name AS contact_name "
        "FROM report_queue_visit v LEFT JOIN queue q ON q.id = v.queue LEFT JOIN contact ct ON ct.id = v.contact "
        "WHERE v.entered_at >= $1 AND v.entered_at < $2 AND v.outcome <> 'waiting' AND ($3::int IS NOT NULL) "
        "AND ($4::text IS NOT NULL) AND " + " AND ".join(where) + " ORDER BY v.entered_at, v.id", *args)
    slug = current_tenant().slug
    out = []
    for r in rows:
        outcome = ("called_back" if r["outcome"] == "answered" else "callback") if r["callback"] else r["outcome"]
        out.append({
            "conversation": r["conversation"], "href": f"/t/{slug}/workspace/{r['conversation']}",
            "contact": r["contact_name"] or "", "contact_href": f"/t/{slug}/contacts/{r['contact']}"
            if r["contact"] else None,
            "queue": word(r["queue_name"]) if r["queue_name"] else str(r["queue"]), "channel": word(r["channel"]),
            "entered_at": r["entered_at"], "wait_seconds": r["wait_seconds"],
            "outcome": i18n.gettext(OUTCOMES.get(outcome, outcome))})
    return DRILL_COLUMNS, out


def _parse_bucket(bucket: str, when: str) -> dt.datetime:
    try:
        if bucket == "hour":
            return dt.datetime.strptime(when.replace(" ", "T"), "%Y-%m-%dT%H:00")
        if bucket == "month":
            return dt.datetime.strptime(when, "%Y-%m")
        return dt.datetime.combine(dt.date.fromisoformat(when), dt.time())
    except ValueError:
        raise NotFound("No row %(row)s in this report.", row=when) from None


async def service_today(queue_id: int | None = None) -> dict[str, Any]:
    """Today's service (the workspace's day) for one queue, or every queue when `queue_id` is None.

    Runs inside the caller's tenant unit of work. Answers
    `{"offered": int, "answered": int, "abandoned": int, "short_abandons": int, "callbacks": int,
      "service_level": float | None,   # 0..1; None when the formula's denominator is 0
      "formula": str,                  # msgid of the tenant's service-level formula, translate when shown
      "longest_wait_seconds": int}`    # longest wait of a contact that entered today and has left the queue
    """
    zone = await workspace_zone()
    today = now().astimezone(zone).date().isoformat()
    day = period(today, today, zone.key)
    settings = await service_level.get_settings()
    formula = settings["service_level_formula"]
    args: list[Any] = [day.start, day.end, settings["service_level_seconds"], settings["short_abandon_seconds"]]
    where = ""
    if queue_id is not None:
        args.append(queue_id)
        where = " AND v.queue = $5"
    counts = await current_uow().connection.fetchrow(f"SELECT {_COUNTS} {_VISITS}{where}", *args)
    return {"offered": counts["offered"], "answered": counts["answered"], "abandoned": counts["abandoned"],
            "short_abandons": counts["short_abandons"], "callbacks": counts["callbacks"],
            "service_level": service_level.service_level(formula, counts),
            "formula": service_level.FORMULAS[formula], "longest_wait_seconds": counts["longest_wait"]}


SPEC = register(ReportSpec(name="queues", build=build, drill=drill, roles="supervisor", title=N_("Queue service"),
                           description=N_("Offered, answered, abandoned, service level, ASA and longest wait per "
                                          "queue or channel."),
                           groups=GROUPS, buckets=BUCKETS[1:]))
