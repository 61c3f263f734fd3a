"""The engine: a durable listener evaluates the enabled rules whose trigger matches each committed event, and jobs
carry on what cannot finish at once (a wait, a delayed trigger, a failed action's retries).

Safe by construction:
- once per (rule, event): the run row is claimed (unique index) in the same transaction as the actions' writes,
  so a second worker, or the same batch run again after a crash, finds it and does nothing;
- no loops: actions run with `realtime.publish.causation_depth` = the event's depth + 1, so the events they cause
  carry it, and a rule never acts on an event of depth MAX_DEPTH or more (the run is logged as depth_limit);
- a per-rule rate limit per contact (runs per hour);
- each action runs in its own savepoint: one that fails is undone, retried by a job (RETRIES times, backing off),
  then recorded failed; the other actions and rules go on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import structlog
from croniter import croniter

from app.accounts.services import workspace_zone
from app.accounts.tables import User
from app.automation import actions as steps
from app.automation import conditions
from app.automation import context as records
from app.automation.actions import AutomationActor
from app.automation.events import RUN_LOGGED
from app.lib import jobs
from app.lib.clock import now
from app.lib.db import TenantRef, current_uow, jsonb, resolve_active, tenant_context
from app.lib.errors import DomainError
from app.lib.i18n import N_
from realtime.events import Event
from realtime.publish import causation_depth, depth_of, emit

log = structlog.get_logger(__name__)

MAX_DEPTH = 3
"""Events caused by this many automated reactions in a row are not acted on (a rule that feeds itself stops)."""
RETRIES = 3
"""Attempts of a failing action (the first included) before it is recorded failed."""
RETRY_DELAYS = (dt.timedelta(seconds=5), dt.timedelta(seconds=30), dt.timedelta(minutes=2))

_RULES_SQL = """
SELECT id, name, version, trigger, event, delay_minutes, conditions, actions, rate_limit, created_by
FROM automation_rule WHERE enabled AND event = $1 AND trigger IN ('event', 'delay') ORDER BY position, id
"""


async def actor_for(rule: dict[str, Any]) -> AutomationActor:
    """The account a rule acts as: its author, else the workspace's first owner."""
    query = User.select(User.id, User.email, User.name)
    row = None
    if rule.get("created_by"):
        row = await query.where(User.id == rule["created_by"]).first()
    if row is None:
        row = await User.select(User.id, User.email, User.name).where(User.role == "owner").order_by(User.id).first()
    assert row is not None, "a workspace always has an owner"
    return AutomationActor(user_id=row["id"], email=row["email"], name=row["name"], role="admin", via="automation",
                           credential_id=rule["id"], rule_name=rule["name"])


# -- the durable listener --------------------------------------------------------------------------------------

async def on_event(event: Event) -> None:
    """Every enabled rule whose trigger is this event, in order (app.automation.domain declares the listener)."""
    rules = [dict(r) for r in await current_uow().connection.fetch(_RULES_SQL, event.name)]
    if not rules:
        return
    ids = records.ids_of(event)
    ctx = await records.load(dict(ids), event_name=event.name)
    ctx["event"]["id"] = event.id
    await _evaluate(rules, event.id, event.name, depth_of(event.data), ctx, now(), await workspace_zone())


async def evaluate_now(rule_id: int, event_name: str, ids: dict[str, Any]) -> None:
    """Evaluate one rule for records as if `event_name` had just happened to them (demo data; no event id, so no
    once-per-event claim)."""
    row = await current_uow().connection.fetchrow(
        "SELECT id, name, version, trigger, event, delay_minutes, conditions, actions, rate_limit, created_by "
        "FROM automation_rule WHERE id = $1", rule_id)
    ctx = await records.load(dict(ids), event_name=event_name)
    await _evaluate([dict(row)], None, event_name, 0, ctx, now(), await workspace_zone())


_CLAIM = """
INSERT INTO automation_run (rule, version, event_id, event_name, depth, contact_id, conversation_id, order_id, ids,
                            status, matched, leaves, note)
SELECT x.rule, x.version, $1, $2, $3, $4, $5, $6, $7::jsonb, x.status, x.matched, x.leaves::jsonb, x.note
FROM unnest($8::int[], $9::int[], $10::text[], $11::bool[], $12::text[], $13::text[])
    AS x(rule, version, status, matched, leaves, note)
ON CONFLICT (rule, event_id) WHERE event_id IS NOT NULL DO NOTHING
RETURNING id, rule, status
"""


async def _evaluate(rules: list[dict[str, Any]], event_id: int | None, event_name: str, depth: int,
                    ctx: dict[str, Any], when: dt.datetime, tz: Any, *, log_unmatched: bool = True) -> None:
    """Evaluate every rule, then claim all their runs in one statement (a run already there: another worker, or
    this batch run again, had this rule handle this event; it is skipped), then act for the matched ones in
    order. A rule after one that acted is evaluated again first: it sees what the earlier rule changed."""
    conn = current_uow().connection
    ids = ctx["ids"]
    columns: list[list[Any]] = [[], [], [], [], [], []]
    for rule in rules:
        if depth >= MAX_DEPTH:
            row = (rule["id"], rule["version"], "depth_limit", False, "[]",
                   N_("Caused by three automated reactions in a row: not acted on."))
        else:
            evaluation = conditions.evaluate(jsonb(rule["conditions"]), ctx, now=when, zone=tz)
            if not evaluation.matched and not log_unmatched:
                continue
            row = (rule["id"], rule["version"], "pending" if evaluation.matched else "not_matched",
                   evaluation.matched, msgspec.json.encode(evaluation.leaves).decode(), "")
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    if not columns[0]:
        return
    claimed = {r["rule"]: r for r in await conn.fetch(
        _CLAIM, event_id, event_name, depth, ids.get("contact_id"), ids.get("conversation_id"), ids.get("order_id"),
        msgspec.json.encode({k: v for k, v in ids.items() if v is not None}).decode(), *columns)}
    acted = False
    for rule in rules:
        run = claimed.get(rule["id"])
        if run is None or run["status"] == "not_matched":
            continue
        if run["status"] == "depth_limit":
            await _logged(run["id"], rule, "depth_limit", ids.get("contact_id"))
            continue
        if acted:
            evaluation = conditions.evaluate(jsonb(rule["conditions"]), ctx, now=when, zone=tz)
            await conn.execute("UPDATE automation_run SET leaves = $2::jsonb, matched = $3 WHERE id = $1", run["id"],
                               msgspec.json.encode(evaluation.leaves).decode(), evaluation.matched)
            if not evaluation.matched:
                await _finish(run["id"], rule, "not_matched", emit_event=False)
                continue
        acted = await _proceed(run["id"], rule, ctx, depth) or acted


async def _proceed(run_id: int, rule: dict[str, Any], ctx: dict[str, Any], depth: int) -> bool:
    """A matched rule: its rate limit, then its actions (or the wait of a delayed trigger). True when it acted."""
    contact_id = ctx["ids"].get("contact_id")
    if rule["rate_limit"] and contact_id:
        recent = await current_uow().connection.fetchval(
            "SELECT count(*) FROM automation_run WHERE rule = $1 AND contact_id = $2 AND matched AND id <> $3 "
            "AND status NOT IN ('rate_limited', 'depth_limit') AND created_at > now() - interval '1 hour'",
            rule["id"], contact_id, run_id)
        if recent >= rule["rate_limit"]:
            await _finish(run_id, rule, "rate_limited",
                          note=N_("The rule's limit of runs per hour for this contact was reached."))
            return False
    plan = [{"type": a["type"], "params": a, "status": "pending"} for a in jsonb(rule["actions"])]
    if rule["trigger"] == "delay" and rule["delay_minutes"]:
        await _save_plan(run_id, plan)
        await _wait(run_id, rule, 0, rule["delay_minutes"])
        return False
    await _execute(run_id, rule, ctx, depth, start=0, plan=plan)
    return bool(plan)


# -- running the actions ---------------------------------------------------------------------------------------

async def _execute(run_id: int, rule: dict[str, Any], ctx: dict[str, Any], depth: int, *, start: int,
                   plan: list[dict[str, Any]] | None = None) -> None:
    if plan is None:
        plan = jsonb(await current_uow().connection.fetchval("SELECT actions FROM automation_run WHERE id = $1",
                                                             run_id))
    actor = await actor_for(rule) if len(plan) > start else None
    ctx["run"] = {"run_id": run_id, "rule_id": rule["id"], "event_id": ctx["event"].get("id"), "depth": depth + 1}
    token = causation_depth.set(depth + 1)
    try:
        for i in range(start, len(plan)):
            step = plan[i]
            if step["type"] == "wait":
                step["status"] = "waiting"
                step["result"] = {"text": N_("Waiting %(minutes)s min"),
                                  "params": {"minutes": step["params"]["minutes"]}}
                await _save_plan(run_id, plan)
                await _wait(run_id, rule, i + 1, int(step["params"]["minutes"]))
                return
            assert actor is not None
            await _attempt(run_id, plan, i, actor, ctx)
    finally:
        causation_depth.reset(token)
    await _finish(run_id, rule, _status(plan), plan=plan)


async def _attempt(run_id: int, plan: list[dict[str, Any]], i: int, actor: AutomationActor,
                   ctx: dict[str, Any]) -> None:
    step = plan[i]
    action = steps.ACTIONS.get(step["type"])
    step["attempts"] = int(step.get("attempts", 0)) + 1
    try:
        if action is None or action.run is None:
            raise ValueError(f"unknown action {step['type']!r}")
        async with current_uow().savepoint():
            step["result"] = await action.run(actor, ctx, step["params"])
        step["status"] = "done"
        step.pop("error", None)
    except Exception as exc:  # an action's failure is recorded; the other actions and rules go on
        step["error"] = ({"text": exc.template, "params": exc.params} if isinstance(exc, DomainError)
                         else f"{type(exc).__name__}: {exc}"[:500])
        if step["attempts"] < RETRIES:
            step["status"] = "retrying"
            await jobs.enqueue("automation.retry_step", {"run_id": run_id, "step": i},
                               delay=RETRY_DELAYS[step["attempts"] - 1],
                               dedupe_key=f"automation:retry:{run_id}:{i}:{step['attempts']}")
        else:
            step["status"] = "failed"
        log.info("automation_action_failed", run_id=run_id, step=i, attempts=step["attempts"], error=str(exc))


def _status(plan: list[dict[str, Any]]) -> str:
    states = {s["status"] for s in plan}
    if "retrying" in states:
        return "retrying" if states <= {"retrying", "done", "skipped"} else "partial"
    if "failed" in states:
        return "failed" if "done" not in states else "partial"
    return "done"


async def _save_plan(run_id: int, plan: list[dict[str, Any]]) -> None:
    await current_uow().connection.execute(
        "UPDATE automation_run SET actions = $2::jsonb, updated_at = now() WHERE id = $1", run_id,
        msgspec.json.encode(plan).decode())


async def _wait(run_id: int, rule: dict[str, Any], step: int, minutes: int) -> None:
    """Park the run: a job resumes it at `step` after `minutes` (once: keyed by run and step)."""
    await current_uow().connection.execute("UPDATE automation_run SET next_step = $2 WHERE id = $1", run_id, step)
    await jobs.enqueue("automation.resume", {"run_id": run_id, "step": step}, delay=dt.timedelta(minutes=minutes),
                       dedupe_key=f"automation:resume:{run_id}:{step}")
    await _finish(run_id, rule, "waiting")


async def _finish(run_id: int, rule: dict[str, Any], status: str, *, note: str = "",
                  emit_event: bool = True, plan: list[dict[str, Any]] | None = None) -> None:
    row = await current_uow().connection.fetchrow(
        "UPDATE automation_run SET status = $2, note = CASE WHEN $3 = '' THEN note ELSE $3 END, updated_at = now(), "
        "actions = coalesce($4::jsonb, actions) WHERE id = $1 RETURNING contact_id", run_id, status, note,
        None if plan is None else msgspec.json.encode(plan).decode())
    if emit_event:
        await _logged(run_id, rule, status, row["contact_id"])


async def _logged(run_id: int, rule: dict[str, Any], status: str, contact_id: int | None) -> None:
    """Announce a run the card and the rule's page show (not for runs whose conditions did not hold: too many)."""
    await emit(RUN_LOGGED, run_id=run_id, rule_id=rule["id"], status=status, contact_id=contact_id)


# -- jobs ------------------------------------------------------------------------------------------------------

async def _locked_run(run_id: int) -> dict[str, Any] | None:
    row = await current_uow().connection.fetchrow("SELECT * FROM automation_run WHERE id = $1 FOR UPDATE", run_id)
    return dict(row) if row is not None else None


async def _definition(rule_id: int, version: int) -> dict[str, Any] | None:
    row = await current_uow().connection.fetchrow(
        "SELECT r.id, r.name, r.created_by, r.trigger, r.delay_minutes, v.definition FROM automation_rule r "
        "JOIN automation_rule_version v ON v.rule = r.id AND v.version = $2 WHERE r.id = $1", rule_id, version)
    if row is None:
        return None
    definition = jsonb(row["definition"])
    return {**dict(row), "conditions": definition.get("conditions") or {"all": []},
            "actions": definition.get("actions") or []}


async def _tenant(payload: dict[str, Any]) -> TenantRef | None:
    return await resolve_active(payload["tenant"])


async def resume(payload: dict[str, Any]) -> None:
    """A wait (or a delayed trigger) ended: check the conditions again on fresh records, then go on or stop."""
    tenant = await _tenant(payload)
    if tenant is None:
        return
    async with tenant_context(tenant):
        run = await _locked_run(int(payload["run_id"]))
        if run is None or run["status"] != "waiting" or run["next_step"] != int(payload["step"]):
            return
        rule = await _definition(run["rule"], run["version"])
        if rule is None:
            return
        ctx = await records.load(dict(jsonb(run["ids"])), event_name=run["event_name"])
        evaluation = conditions.evaluate(rule["conditions"], ctx, now=now(), zone=await workspace_zone())
        plan = jsonb(run["actions"])
        if run["next_step"] > 0 and plan[run["next_step"] - 1]["type"] == "wait":
            plan[run["next_step"] - 1]["status"] = "done"
        await _save_plan(run["id"], plan)
        leaves = jsonb(run["leaves"]) + [{**leaf, "phase": "recheck"} for leaf in evaluation.leaves]
        await current_uow().connection.execute("UPDATE automation_run SET leaves = $2::jsonb WHERE id = $1",
                                               run["id"], msgspec.json.encode(leaves).decode())
        if not evaluation.matched:
            for step in plan[run["next_step"]:]:
                step["status"] = "skipped"
            await _save_plan(run["id"], plan)
            await _finish(run["id"], rule, "stopped", note=N_("The conditions no longer held when the wait ended."))
            return
        await _execute(run["id"], rule, ctx, run["depth"], start=run["next_step"])


async def retry_step(payload: dict[str, Any]) -> None:
    """Try a failed action again (the run's other actions have gone on already)."""
    tenant = await _tenant(payload)
    if tenant is None:
        return
    async with tenant_context(tenant):
        run = await _locked_run(int(payload["run_id"]))
        if run is None:
            return
        plan = jsonb(run["actions"])
        i = int(payload["step"])
        if i >= len(plan) or plan[i]["status"] != "retrying":
            return
        rule = await _definition(run["rule"], run["version"])
        if rule is None:
            return
        ctx = await records.load(dict(jsonb(run["ids"])), event_name=run["event_name"])
        token = causation_depth.set(run["depth"] + 1)
        try:
            await _attempt(run["id"], plan, i, await actor_for(rule), ctx)
        finally:
            causation_depth.reset(token)
        await _save_plan(run["id"], plan)
        if run["status"] != "waiting":
            await _finish(run["id"], rule, _status(plan))


# -- schedules ----------------------------------------------------------------------------------------------------

SCHEDULE_CONTACTS = 500
"""Contacts a scheduled rule looks at per firing (the most recently updated)."""


async def plan_schedule(rule_id: int, *, after: dt.datetime | None = None) -> None:
    """Queue the next firing of an enabled scheduled rule (its cron in the workspace's zone). Once per (rule,
    version, time): the job and `next_run_at` carry the time, so a stale or duplicate job finds a mismatch."""
    conn = current_uow().connection
    rule = await conn.fetchrow("SELECT id, version, enabled, trigger, schedule FROM automation_rule WHERE id = $1",
                               rule_id)
    if rule is None or not rule["enabled"] or rule["trigger"] != "schedule":
        await conn.execute("UPDATE automation_rule SET next_run_at = NULL WHERE id = $1", rule_id)
        return
    local = max(now(), after or now()).astimezone(await workspace_zone())
    at = croniter(rule["schedule"], local).get_next(dt.datetime).astimezone(dt.UTC)
    await conn.execute("UPDATE automation_rule SET next_run_at = $2 WHERE id = $1", rule_id, at)
    await jobs.enqueue("automation.schedule", {"rule_id": rule_id, "version": rule["version"], "at": at.isoformat()},
                       delay=max(dt.timedelta(0), at - now()),
                       dedupe_key=f"automation:schedule:{rule_id}:{rule['version']}:{at.isoformat()}")


async def fire_schedule(payload: dict[str, Any]) -> None:
    """A scheduled rule's time came: its conditions over each contact, its actions for those that match (only the
    matches are logged), then the next firing. Late after downtime it fires once and plans from now."""
    tenant = await _tenant(payload)
    if tenant is None:
        return
    async with tenant_context(tenant):
        conn = current_uow().connection
        rule = await conn.fetchrow(
            "SELECT id, name, version, trigger, event, delay_minutes, conditions, actions, rate_limit, created_by, "
            "enabled, next_run_at FROM automation_rule WHERE id = $1 FOR UPDATE", int(payload["rule_id"]))
        if (rule is None or not rule["enabled"] or rule["trigger"] != "schedule"
                or rule["version"] != payload["version"] or rule["next_run_at"] is None
                or rule["next_run_at"] != dt.datetime.fromisoformat(payload["at"])):
            return  # changed, disabled, or fired already
        contacts = await conn.fetch("SELECT id FROM contact WHERE deleted_at IS NULL ORDER BY updated_at DESC "
                                    "LIMIT $1", SCHEDULE_CONTACTS)
        when, tz = now(), await workspace_zone()
        for contact in contacts:
            ctx = await records.load({"contact_id": contact["id"]}, event_name="schedule")
            await _evaluate([dict(rule)], None, "schedule", 0, ctx, when, tz, log_unmatched=False)
        await plan_schedule(rule["id"], after=rule["next_run_at"])


JOBS = {
    "automation.schedule": jobs.JobSpec(fire_schedule),
    "automation.resume": jobs.JobSpec(resume),
    "automation.retry_step": jobs.JobSpec(retry_step),
}
