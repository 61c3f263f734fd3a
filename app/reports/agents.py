"""The Agent performance report (`agents`): per agent, queue or channel, or per day, week or month, over a period
of the workspace's zone. Counts, sums and percentiles come from the 15-minute rollups; occupancy and utilisation
from the presence history (agent_state_interval); the drill-down reads the facts behind a number."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from app.lib import i18n
from app.lib.db import current_tenant, current_uow
from app.lib.errors import Invalid
from app.lib.i18n import N_
from app.reports import kit, rollups, services

GROUPS = ("agent", "queue", "channel")
BUCKETS = ("day", "week", "month")
SUMMED = ("handle", "transfer", "offer_timeout", "offer_rejected", "offer_accepted")
PERCENTILES = {
    "first_response_median": ("first_response", 0.5), "first_response_p90": ("first_response", 0.9),
    "first_response_bh_median": ("first_response_bh", 0.5), "first_response_bh_p90": ("first_response_bh", 0.9),
    "resolution_median": ("resolution", 0.5), "resolution_p90": ("resolution", 0.9),
    "resolution_bh_median": ("resolution_bh", 0.5),
}
HANDLED = N_("Legs that ended in the period: an agent's handling of a conversation until it was closed, wrapped up "
             "or handed on (a transferred conversation counts once for each agent).")

COLUMNS = [
    kit.Column("handled", N_("Handled"), "int", HANDLED, drill=True),
    kit.Column("aht", N_("AHT"), "seconds", N_("(talk + hold + wrap) ÷ handled"), drill=True),
    kit.Column("first_response_median", N_("First response, median"), "seconds",
               N_("median of (first reply - created); a call's first reply is when an agent took it"), drill=True),
    kit.Column("first_response_p90", N_("First response, P90"), "seconds",
               N_("90th percentile of (first reply - created)"), drill=True),
    kit.Column("first_response_bh_median", N_("First response in business hours, median"), "seconds",
               N_("median of the open seconds of the queue's calendar between created and first reply"),
               drill=True),
    kit.Column("first_response_bh_p90", N_("First response in business hours, P90"), "seconds",
               N_("90th percentile of the open seconds between created and first reply"), drill=True),
    kit.Column("resolution_median", N_("Resolution, median"), "seconds",
               N_("median of (closed - created - snoozed time), by the agent who closed it"), drill=True),
    kit.Column("resolution_p90", N_("Resolution, P90"), "seconds",
               N_("90th percentile of (closed - created - snoozed time)"), drill=True),
    kit.Column("resolution_bh_median", N_("Resolution in business hours, median"), "seconds",
               N_("median of the open seconds between created and closed, less snoozed open seconds"), drill=True),
    kit.Column("missed", N_("Missed offers"), "int", N_("offers that timed out"), drill=True),
    kit.Column("rejected", N_("Rejected offers"), "int", N_("offers the agent declined"), drill=True),
    kit.Column("transfers", N_("Transfers"), "int", N_("legs handed on to a colleague or another queue"),
               drill=True),
    kit.Column("occupancy", N_("Occupancy"), "percent", N_("handle time ÷ (handle time + available idle time)")),
    kit.Column("utilisation", N_("Utilisation"), "percent", N_("handle time ÷ logged-in time (every state but "
                                                                 "offline)")),
]
LABELS = {"agent": N_("Agent"), "queue": N_("Queue"), "channel": N_("Channel"), "day": N_("Day"),
          "week": N_("Week"), "month": N_("Month")}
NOTES = [
    N_("Medians and P90 are nearest-rank percentiles over 15-minute histograms: exact to the second below 5 "
       "minutes, to the lower 10 seconds below 30 minutes, to the lower minute beyond."),
    N_("A leg counts on the day it ended, a first response on the day it was given, a resolution on the day the "
       "conversation was closed (the workspace's time zone)."),
    N_("Wrap time is from the end of a call to its wrap-up; other channels have none."),
]


def _choice(params: Mapping[str, str], key: str, choices: tuple[str, ...], default: str) -> str:
    value = (params.get(key) or default).strip()
    if value and value not in choices:
        raise Invalid("%(key)s must be one of: %(choices)s.", field=key, key=key, choices=", ".join(choices))
    return value


def _agent_param(params: Mapping[str, str]) -> int | None:
    raw = (params.get("agent") or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise Invalid("agent must be a user id.", field="agent")
    return int(raw)


def _dimension(group: str, bucket: str, zone: str) -> str:
    """SQL of the row key over report_rollup `r`."""
    if bucket:
        zone_sql = "'" + zone.replace("'", "''") + "'"
        return f"to_char(date_trunc('{bucket}', r.bucket AT TIME ZONE {zone_sql}), 'YYYY-MM-DD')"
    return {"agent": "r.agent::text", "queue": "r.queue::text", "channel": "r.channel"}[group]


def _bucket_range(key: str, bucket: str, period: kit.Period) -> tuple[dt.datetime, dt.datetime]:
    """The UTC bounds of one row of a per-day/week/month report, clipped to the period."""
    try:
        first = dt.date.fromisoformat(key)
    except ValueError:
        raise Invalid("No row %(row)s in this report.", field="row", row=key) from None
    if bucket == "day":
        last = first + dt.timedelta(days=1)
    elif bucket == "week":
        last = first + dt.timedelta(days=7)
    else:
        last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    tz = ZoneInfo(period.zone)
    start = dt.datetime.combine(first, dt.time(), tzinfo=tz).astimezone(dt.UTC)
    end = dt.datetime.combine(last, dt.time(), tzinfo=tz).astimezone(dt.UTC)
    return max(start, period.start), min(end, period.end)


async def _presence(period: kit.Period, ranges: Mapping[str, tuple[dt.datetime, dt.datetime]] | None,
                    agent: int | None) -> dict[str, dict[str, float]]:
    """Seconds available and logged in (not offline) per agent id (or per time-row key when `ranges` is given)."""
    conn = current_uow().connection
    if ranges is None:
        rows = await conn.fetch("""
            SELECT "user"::text AS k,
                   sum(extract(epoch FROM least(coalesce(ended_at, now()), $2) - greatest(started_at, $1)))
                       FILTER (WHERE state = 'available') AS available,
                   sum(extract(epoch FROM least(coalesce(ended_at, now()), $2) - greatest(started_at, $1)))
                       FILTER (WHERE state <> 'offline') AS logged_in
            FROM agent_state_interval
            WHERE started_at < $2 AND coalesce(ended_at, now()) > $1 AND ($3::int IS NULL OR "user" = $3)
            GROUP BY "user" """, period.start, period.end, agent)
    else:
        keys = list(ranges)
        rows = await conn.fetch("""
            SELECT x.k,
                   sum(extract(epoch FROM least(coalesce(i.ended_at, now()), x.e) - greatest(i.started_at, x.s)))
                       FILTER (WHERE i.state = 'available') AS available,
                   sum(extract(epoch FROM least(coalesce(i.ended_at, now()), x.e) - greatest(i.started_at, x.s)))
                       FILTER (WHERE i.state <> 'offline') AS logged_in
            FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS x(k, s, e)
            JOIN agent_state_interval i ON i.started_at < x.e AND coalesce(i.ended_at, now()) > x.s
            WHERE ($4::int IS NULL OR i."user" = $4)
            GROUP BY x.k""", keys, [ranges[k][0] for k in keys], [ranges[k][1] for k in keys], agent)
    return {r["k"]: {"available": float(r["available"] or 0), "logged_in": float(r["logged_in"] or 0)}
            for r in rows}


def _figures(sums: Mapping[str, tuple[int, float]], hists: Mapping[str, dict[int, int]],
             presence: Mapping[str, float] | None) -> dict[str, Any]:
    handled, handle = sums.get("handle", (0, 0.0))
    out: dict[str, Any] = {
        "handled": handled,
        "aht": round(handle / handled, 1) if handled else None,
        "missed": sums.get("offer_timeout", (0, 0.0))[0],
        "rejected": sums.get("offer_rejected", (0, 0.0))[0],
        "transfers": sums.get("transfer", (0, 0.0))[0],
        "handle_seconds": round(handle),
    }
    for key, (metric, share) in PERCENTILES.items():
        out[key] = rollups.percentile(hists.get(metric, {}), share)
    out["occupancy"] = out["utilisation"] = None
    if presence is not None and presence.get("logged_in"):
        busy_or_idle = handle + presence["available"]
        out["occupancy"] = round(100.0 * handle / busy_or_idle, 1) if busy_or_idle else None
        out["utilisation"] = round(100.0 * handle / presence["logged_in"], 1)
    return out


async def build(period: kit.Period, params: Mapping[str, str]) -> kit.Report:
    group = _choice(params, "group", GROUPS, "agent")
    bucket = _choice(params, "bucket", BUCKETS, "")
    agent = _agent_param(params)
    conn = current_uow().connection
    key_sql = _dimension(group, bucket, period.zone)
    binned = sorted({m for m, _ in PERCENTILES.values()})
    metrics = list(SUMMED) + binned
    if bucket:  # rows per local day, week or month: the 15-minute rows
        source, bounds = "report_rollup r WHERE r.bucket >= $1 AND r.bucket < $2 AND", []
    else:  # the whole UTC days from the daily rows, the edges from the 15-minute rows
        source, bounds = f"{rollups.SOURCE} r WHERE", list(rollups.split(period.start, period.end))
    where = f"{source} ($3::int IS NULL OR r.agent = $3) AND r.metric = ANY($4::varchar[])"
    sums_rows = await conn.fetch(
        f"SELECT {key_sql} AS k, r.metric, sum(r.count) AS c, sum(r.sum) AS s FROM {where} GROUP BY 1, 2",  # noqa: S608
        period.start, period.end, agent, metrics, *bounds)
    hist_rows = await conn.fetch(
        f"SELECT {key_sql} AS k, r.metric, e.key::int AS bin, sum(e.value::bigint) AS n "  # noqa: S608
        f"FROM {where.replace(' r WHERE', ' r CROSS JOIN LATERAL jsonb_each_text(r.hist) e WHERE', 1)} "
        "GROUP BY 1, 2, 3", period.start, period.end, agent, binned, *bounds)
    sums: dict[str, dict[str, tuple[int, float]]] = {}
    hists: dict[str, dict[str, dict[int, int]]] = {}
    total_sums: dict[str, tuple[int, float]] = {}
    total_hists: dict[str, dict[int, int]] = {}
    for r in sums_rows:
        if group == "agent" and not bucket and r["k"] == "0":
            continue  # work no agent did (a first response by nobody): only in the totals below
        sums.setdefault(r["k"], {})[r["metric"]] = (int(r["c"]), float(r["s"]))
    for r in sums_rows:
        c, s = total_sums.get(r["metric"], (0, 0.0))
        total_sums[r["metric"]] = (c + int(r["c"]), s + float(r["s"]))
    for r in hist_rows:
        if not (group == "agent" and not bucket and r["k"] == "0"):
            h = hists.setdefault(r["k"], {}).setdefault(r["metric"], {})
            h[r["bin"]] = h.get(r["bin"], 0) + int(r["n"])
        th = total_hists.setdefault(r["metric"], {})
        th[r["bin"]] = th.get(r["bin"], 0) + int(r["n"])

    notes = list(NOTES)
    presence: dict[str, dict[str, float]] = {}
    ranges: dict[str, tuple[dt.datetime, dt.datetime]] | None = None
    if bucket:
        keys = sorted(set(sums) | set(hists) | set(_bucket_keys(period, bucket)))
        ranges = {k: _bucket_range(k, bucket, period) for k in keys}
        presence = await _presence(period, ranges, agent)
    elif group == "agent":
        presence = await _presence(period, None, agent)
    else:
        notes.append(N_("Occupancy and utilisation are per agent or per period, not per queue or channel."))
    first_presence = await conn.fetchval("SELECT min(started_at) FROM agent_state_interval")
    if first_presence is None or first_presence > period.start:
        notes.append(i18n.gettext(
            "No presence data before %(when)s: occupancy and utilisation count only the time since.",
            when=i18n.format_datetime(first_presence) if first_presence else i18n.gettext("this period's end")))

    labels: dict[str, str] = {}
    if bucket:
        labels = {k: k for k in (ranges or {})}
    elif group == "agent":
        ids = {int(k) for k in set(sums) | set(presence) if k.isdigit()}
        if agent is not None:
            ids = {i for i in ids if i == agent}
        labels = {str(i): name for i, name in (await services.agent_labels(ids)).items()}
    elif group == "queue":
        labels = {str(i): name for i, name in (await services.queue_labels()).items() if str(i) in sums}
    else:
        labels = {k: i18n.gettext(k) for k in sums}

    targets = await services.targets_by_agent() if group == "agent" and not bucket else {}
    team_targets = (await services.targets_by_agent()).get(None, {})
    rows = []
    for key in sorted(labels, key=lambda k: (labels[k].lower() if not bucket else k)):
        row = {"key": key, "label": labels[key],
               **_figures(sums.get(key, {}), hists.get(key, {}),
                          presence.get(key) if (bucket or group == "agent") else None)}
        if group == "agent" and not bucket:
            mine = {**team_targets, **targets.get(int(key), {})}
            row["targets"] = {m: {"target": v, "gap": services.gap(m, row.get(m), v)} for m, v in mine.items()}
        rows.append(row)
    total_presence = None
    if bucket or group == "agent":
        total_presence = {"available": sum(p["available"] for p in presence.values()),
                          "logged_in": sum(p["logged_in"] for p in presence.values())}
    totals = {"key": "all", "label": i18n.gettext("Total"), **_figures(total_sums, total_hists, total_presence)}
    totals["targets"] = {m: {"target": v, "gap": services.gap(m, totals.get(m), v)} for m, v in team_targets.items()}
    label_col = kit.Column("label", LABELS[bucket or group], "text")
    return kit.Report(
        name="agents", title=N_("Agent performance"), columns=[label_col, *COLUMNS], rows=rows, totals=totals,
        chart={"type": "line" if bucket else "bar", "x": "label", "series": ["handled", "transfers", "missed"]},
        notes=notes, params={"group": group, "bucket": bucket, "agent": agent})


def _bucket_keys(period: kit.Period, bucket: str) -> list[str]:
    """Every row key of a per-day/week/month report (a day with nothing still has its row)."""
    keys = []
    day = period.first
    while day <= period.last:
        if bucket == "day":
            start = day
        elif bucket == "week":
            start = day - dt.timedelta(days=day.weekday())
        else:
            start = day.replace(day=1)
        keys.append(start.isoformat())
        day += dt.timedelta(days=1)
    return sorted(set(keys))


# -- drill-down -------------------------------------------------------------------------------------------------

LEG_COLUMNS = [
    kit.Column("conversation", N_("Conversation"), "int"), kit.Column("agent_label", N_("Agent"), "text"),
    kit.Column("queue_label", N_("Queue"), "text"), kit.Column("channel", N_("Channel"), "text"),
    kit.Column("started_at", N_("Started"), "datetime"), kit.Column("ended_at", N_("Ended"), "datetime"),
    kit.Column("talk_seconds", N_("Talk"), "seconds"), kit.Column("hold_seconds", N_("Hold"), "seconds"),
    kit.Column("wrap_seconds", N_("Wrap"), "seconds"), kit.Column("handle_seconds", N_("Handle"), "seconds"),
    kit.Column("transferred_out", N_("Transferred"), "text"),
]
RESPONSE_COLUMNS = [
    kit.Column("conversation", N_("Conversation"), "int"), kit.Column("agent_label", N_("Agent"), "text"),
    kit.Column("queue_label", N_("Queue"), "text"), kit.Column("channel", N_("Channel"), "text"),
    kit.Column("created_at", N_("Created"), "datetime"), kit.Column("at", N_("At"), "datetime"),
    kit.Column("seconds", N_("Seconds"), "seconds"), kit.Column("bh_seconds", N_("Business-hours seconds"),
                                                                "seconds"),
]
OFFER_COLUMNS = [
    kit.Column("conversation", N_("Conversation"), "int"), kit.Column("agent_label", N_("Agent"), "text"),
    kit.Column("queue_label", N_("Queue"), "text"), kit.Column("channel", N_("Channel"), "text"),
    kit.Column("offered_at", N_("Offered"), "datetime"), kit.Column("closed_at", N_("Closed"), "datetime"),
    kit.Column("outcome", N_("Outcome"), "text"),
]


async def drill(period: kit.Period, params: Mapping[str, str], row_key: str,
                column_key: str) -> tuple[list[kit.Column], list[dict[str, Any]]]:
    """The facts behind one number: legs (handled, AHT, transfers), conversations (first response, resolution)
    or offers (missed, rejected). Their count (or percentile) is the number clicked."""
    group = _choice(params, "group", GROUPS, "agent")
    bucket = _choice(params, "bucket", BUCKETS, "")
    agent = _agent_param(params)
    column = next((c for c in COLUMNS if c.key == column_key and c.drill), None)
    if column is None:
        raise Invalid("The column %(column)s has no rows behind it.", field="column", column=column_key)
    start, end = period.start, period.end
    if bucket and row_key != "all":
        start, end = _bucket_range(row_key, bucket, period)
    who = {"agent": "agent", "queue": "queue", "channel": "channel"}[group]
    filters, args = [], [start, end]
    if row_key != "all" and not bucket:
        if group == "channel":
            args.append(row_key)
        elif row_key.lstrip("-").isdigit():
            args.append(int(row_key))
        else:
            raise Invalid("No row %(row)s in this report.", field="row", row=row_key)
        filters.append(f"{{t}}.{who if who != 'agent' else '{agent}'} = ${len(args)}")
    if agent is not None:
        args.append(agent)
        filters.append(f"{{t}}.{{agent}} = ${len(args)}")
    conn = current_uow().connection
    if column_key in ("handled", "aht", "transfers"):
        extra = " AND l.transferred_out" if column_key == "transfers" else ""
        where = " AND ".join(f.format(t="l", agent="agent") for f in filters)
        rows = await conn.fetch(
            "SELECT l.conversation, l.agent, l.queue, l.channel, l.started_at, l.ended_at, l.talk_seconds, "  # noqa: S608
            "l.hold_seconds, l.wrap_seconds, l.talk_seconds + l.hold_seconds + l.wrap_seconds AS handle_seconds, "
            "l.transferred_out FROM report_agent_leg l WHERE l.ended_at >= $1 AND l.ended_at < $2" + extra
            + (" AND " + where if where else "") + " ORDER BY l.ended_at, l.id", *args)
        columns, out = LEG_COLUMNS, [dict(r) for r in rows]
        for r in out:
            r["transferred_out"] = i18n.gettext("yes") if r["transferred_out"] else ""
    elif column_key.startswith(("first_response", "resolution")):
        first = column_key.startswith("first_response")
        at, secs, bh, by = (("first_response_at", "first_response_seconds", "first_response_bh_seconds",
                             "responder") if first else
                            ("resolved_at", "resolution_seconds", "resolution_bh_seconds", "agent"))
        where = " AND ".join(f.format(t="c", agent=by) for f in filters)
        rows = await conn.fetch(
            f"SELECT c.conversation, c.{by} AS agent, c.queue, c.channel, c.created_at, c.{at} AS at, "  # noqa: S608
            f"c.{secs} AS seconds, c.{bh} AS bh_seconds FROM report_conversation c "
            f"WHERE c.{at} >= $1 AND c.{at} < $2" + (" AND " + where if where else "")
            + f" ORDER BY c.{secs}, c.conversation", *args)
        columns, out = RESPONSE_COLUMNS, [dict(r) for r in rows]
    else:
        outcome = "timeout" if column_key == "missed" else "rejected"
        where = " AND ".join(f.format(t="o", agent="agent") for f in filters)
        rows = await conn.fetch(
            "SELECT o.conversation, o.agent, o.queue, o.channel, o.offered_at, o.closed_at, o.outcome "
            "FROM report_offer o WHERE o.offered_at >= $1 AND o.offered_at < $2 AND o.outcome = '" + outcome + "'"
            + (" AND " + where if where else "") + " ORDER BY o.offered_at, o.id", *args)
        columns, out = OFFER_COLUMNS, [dict(r) for r in rows]
    agents = await services.agent_labels({r["agent"] for r in out if r.get("agent")})
    queues = await services.queue_labels()
    slug = current_tenant().slug
    for r in out:
        r["agent_label"] = agents.get(r.get("agent") or 0, "")
        r["queue_label"] = queues.get(r.get("queue") or 0, "")
        r["href"] = f"/t/{slug}/workspace/{r['conversation']}"
    return columns, out


SPEC = kit.register(kit.ReportSpec("agents", build, drill, roles="supervisor", title=N_("Agent performance"),
                                   description=N_("Handled, handle time, response and resolution, offers, "
                                                  "occupancy and utilisation per agent.")))
