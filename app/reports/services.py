"""Reports' rules: the rebuild of every fact from history, KPI targets, the availability timeline, the workspace's
zone and the labels of agents and queues."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from app.accounts.services import Principal, workspace_zone
from app.audit import services as audit
from app.lib import i18n
from app.lib.db import TenantRef, current_uow, tenant_context
from app.lib.errors import Forbidden, Invalid, NotFound
from app.lib.i18n import N_
from app.reports import facts, kit, rollups
from app.reports.schemas import TargetOut, TargetsOut

REBUILD_BATCH = 500
"""Conversations projected per transaction: a rebuild never holds one long transaction (it would hold back the
event log's safe horizon for every tenant)."""
FACTS, ROLLUPS = N_("facts"), N_("rollups")
"""The rebuild's phases, as its progress names them."""

TARGET_METRICS: dict[str, str] = {
    "handled": N_("Handled"),
    "aht": N_("AHT"),
    "first_response_median": N_("First response, median"),
    "first_response_p90": N_("First response, P90"),
    "resolution_median": N_("Resolution, median"),
    "resolution_p90": N_("Resolution, P90"),
    "missed": N_("Missed offers"),
    "occupancy": N_("Occupancy"),
    "utilisation": N_("Utilisation"),
}
"""The metrics a KPI target may be set on (keys are the agents report's column keys)."""
LOWER_IS_BETTER = frozenset({"aht", "first_response_median", "first_response_p90", "resolution_median",
                             "resolution_p90", "missed"})

STATES = ("available", "busy", "wrapup", "away", "offline")


# -- rebuild ----------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class RebuildResult:
    conversations: int = 0
    buckets: int = 0


async def rebuild(tenant: TenantRef, on_progress: Callable[[str, int, int], None] | None = None) -> RebuildResult:
    """Project every conversation of the tenant from its history again, then every rollup: the same code the
    listener runs, so the result equals the live facts. Progress: `on_progress(phase, done, total)`."""
    tick = on_progress or (lambda phase, done, total: None)
    async with tenant_context(tenant):
        conn = current_uow().connection
        await conn.execute(facts.LOCK)
        for table in ("report_queue_visit", "report_agent_leg", "report_conversation", "report_offer",
                      "report_rollup", "report_rollup_day", "report_rollup_month"):
            await conn.execute(f"DELETE FROM {table}")  # noqa: S608 (constants)
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM conversation ORDER BY id")]
    result = RebuildResult(conversations=len(ids))
    tick(FACTS, 0, len(ids))
    for start in range(0, len(ids), REBUILD_BATCH):
        chunk = ids[start:start + REBUILD_BATCH]
        async with tenant_context(tenant):
            for conversation_id in chunk:
                await facts.project(conversation_id, refresh=False)
        tick(FACTS, start + len(chunk), len(ids))
    tick(ROLLUPS, 0, 1)
    async with tenant_context(tenant):  # one pass over the facts (a join per bucket is far slower for months)
        await current_uow().connection.execute(facts.LOCK)
        result.buckets = await rollups.rebuild_all()
    tick(ROLLUPS, 1, 1)
    return result


async def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every fact and rollup row of the current tenant, in a stable order (tests compare live with rebuilt)."""
    conn = current_uow().connection
    out: dict[str, list[tuple[Any, ...]]] = {}
    queries = {
        "visits": "SELECT conversation, contact, channel, queue, entered_at, answered_at, answered_by, left_at, "
                  "outcome, wait_seconds, callback FROM report_queue_visit ORDER BY conversation, entered_at, id",
        "legs": "SELECT conversation, channel, queue, agent, started_at, ended_at, talk_seconds, hold_seconds, "
                "wrap_seconds, transferred_out, disposition FROM report_agent_leg "
                "ORDER BY conversation, started_at, id",
        "conversations": "SELECT * FROM report_conversation ORDER BY conversation",
        "offers": "SELECT * FROM report_offer ORDER BY id",
        "rollups": "SELECT bucket, queue, agent, channel, metric, count, sum, hist::text FROM report_rollup "
                   "ORDER BY bucket, metric, agent, queue, channel",
        "days": "SELECT day, queue, agent, channel, metric, count, sum, hist::text FROM report_rollup_day "
                "ORDER BY day, metric, agent, queue, channel",
        "months": "SELECT month, queue, agent, channel, metric, count, sum, hist::text FROM report_rollup_month "
                  "ORDER BY month, metric, agent, queue, channel",
    }
    for key, sql in queries.items():
        out[key] = [tuple(r.values()) for r in await conn.fetch(sql)]
    return out


# -- workspace and labels ---------------------------------------------------------------------------------------

async def zone() -> str:
    """The name of the workspace's time zone (reports' days are its days; `kit.period` takes the name)."""
    return (await workspace_zone()).key


async def agent_labels(ids: Iterable[int] | None = None) -> dict[int, str]:
    sql = "SELECT id, coalesce(nullif(name, ''), email) AS label FROM app_user"
    conn = current_uow().connection
    rows = await (conn.fetch(sql + " WHERE id = ANY($1::int[])", list(ids)) if ids is not None else conn.fetch(sql))
    return {r["id"]: r["label"] for r in rows}


async def queue_labels() -> dict[int, str]:
    rows = await current_uow().connection.fetch("SELECT id, name FROM queue")
    return {r["id"]: r["name"] for r in rows}


# -- KPI targets ------------------------------------------------------------------------------------------------

async def targets() -> list[dict[str, Any]]:
    rows = await current_uow().connection.fetch(
        "SELECT metric, agent, value FROM report_target ORDER BY metric, agent NULLS FIRST")
    return [dict(r) for r in rows]


async def targets_by_agent() -> dict[int | None, dict[str, float]]:
    out: dict[int | None, dict[str, float]] = {}
    for row in await targets():
        out.setdefault(row["agent"], {})[row["metric"]] = float(row["value"])
    return out


async def set_targets(actor: Principal, items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Replace the KPI targets with `items` ({metric, agent (null: the team), value}); an unknown metric or agent,
    a negative value or a metric set twice for the same agent is refused, and nothing changes."""
    conn = current_uow().connection
    known = set((await agent_labels()).keys())
    seen: set[tuple[str, int | None]] = set()
    rows: list[tuple[str, int | None, float]] = []
    for item in items:
        metric, agent, value = item.get("metric"), item.get("agent"), item.get("value")
        if metric not in TARGET_METRICS:
            raise Invalid("Unknown metric %(metric)s; choose one of: %(choices)s.", field="metric",
                          metric=str(metric), choices=", ".join(TARGET_METRICS))
        if agent is not None and agent not in known:
            raise Invalid("No user %(agent)s.", field="agent", agent=agent)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise Invalid("A target is a number of 0 or more.", field="value")
        if metric in ("occupancy", "utilisation") and value > 100:
            raise Invalid("A percentage target is at most 100.", field="value")
        if (metric, agent) in seen:
            raise Invalid("The target for %(metric)s is given twice.", field="metric", metric=metric)
        seen.add((metric, agent))
        rows.append((metric, agent, float(value)))
    await conn.execute("DELETE FROM report_target")
    if rows:
        await conn.executemany("INSERT INTO report_target (metric, agent, value) VALUES ($1, $2, $3)", rows)
    await audit.record("reports.targets_changed", actor_id=actor.user_id, actor=actor.label,
                       target_type="report_target", target_id="",
                       detail={"targets": [{"metric": m, "agent": a, "value": v} for m, a, v in rows]})
    return await targets()


def gap(metric: str, value: Any, target: float | None) -> float | None:
    """How far a figure is from its target, signed so that positive is better than the target."""
    if target is None or value is None:
        return None
    diff = float(value) - target
    return round(-diff if metric in LOWER_IS_BETTER else diff, 1)


# -- availability timeline --------------------------------------------------------------------------------------

async def timeline(day: dt.date, zone_name: str) -> dict[str, Any]:
    """Each agent's states over one day of the workspace's zone (a DST day has 23 or 25 hours): spans clipped to
    the day, from the presence history (agent_state_interval)."""
    tz = ZoneInfo(zone_name)
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz).astimezone(dt.UTC)
    conn = current_uow().connection
    rows = await conn.fetch(
        "SELECT \"user\" AS agent, state, reason, greatest(started_at, $1) AS s, least(coalesce(ended_at, now()), $2) "
        "AS e FROM agent_state_interval WHERE started_at < $2 AND coalesce(ended_at, now()) > $1 "
        "ORDER BY \"user\", started_at", start, end)
    first = await conn.fetchval("SELECT min(started_at) FROM agent_state_interval")
    labels = await agent_labels({r["agent"] for r in rows})
    agents: dict[int, dict[str, Any]] = {}
    for r in rows:
        if r["e"] <= r["s"]:
            continue
        entry = agents.setdefault(r["agent"], {"agent": r["agent"], "label": labels.get(r["agent"], str(r["agent"])),
                                               "spans": [], "seconds": {}})
        seconds = round((r["e"] - r["s"]).total_seconds())
        day_seconds = (end - start).total_seconds()
        entry["spans"].append({"state": r["state"], "reason": r["reason"], "start": r["s"].isoformat(),
                               "end": r["e"].isoformat(), "seconds": seconds,
                               "left": round(100 * (r["s"] - start).total_seconds() / day_seconds, 3),
                               "width": round(100 * seconds / day_seconds, 3)})
        entry["seconds"][r["state"]] = entry["seconds"].get(r["state"], 0) + seconds
    notes = []
    if first is None or first > start:
        notes.append(N_("No presence data before %(when)s: the timeline shows what was recorded since."))
    return {"date": day.isoformat(), "zone": zone_name, "start": start.isoformat(), "end": end.isoformat(),
            "day_seconds": round((end - start).total_seconds()), "agents": sorted(agents.values(),
                                                                               key=lambda a: a["label"].lower()),
            "notes": notes, "first_presence": first.isoformat() if first else None}


# -- what the routes need ---------------------------------------------------------------------------------------

def gettext(message: str) -> str:
    return i18n.gettext(message)


def visible_specs(user: Principal) -> list[kit.ReportSpec]:
    return [spec for spec in kit.REPORTS.values() if user.has_role(spec.roles)]


def spec_for(user: Principal, name: str) -> kit.ReportSpec:
    """The report `name` if it exists (404) and `user` may open it (403)."""
    spec = kit.REPORTS.get(name)
    if spec is None:
        raise NotFound("No report %(name)s.", name=name)
    if not user.has_role(spec.roles):
        raise Forbidden("This report needs the %(role)s role or higher.", role=i18n.gettext(spec.roles))
    return spec


def targets_out(rows: list[dict[str, Any]]) -> TargetsOut:
    return TargetsOut(targets=[TargetOut(metric=r["metric"], agent=r["agent"], value=float(r["value"]))
                               for r in rows],
                      metrics={k: i18n.gettext(v) for k, v in TARGET_METRICS.items()})


async def timeline_of(date: str | None) -> dict[str, Any]:
    zone_name = await zone()
    if date:
        try:
            day = dt.date.fromisoformat(date.strip())
        except ValueError:
            raise Invalid("date must be a date like 2026-12-01.", field="date") from None
    else:
        day = dt.datetime.now(ZoneInfo(zone_name)).date()
    out = await timeline(day, zone_name)
    first = out["first_presence"]
    out["notes"] = [i18n.gettext(n, when=i18n.format_datetime(dt.datetime.fromisoformat(first)) if first
                                 else i18n.gettext("today")) for n in out["notes"]]
    return out
