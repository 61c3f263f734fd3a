"""Automation rules: save (each change of the definition is a new version), enable, order, test against a record,
preview, the run log; starter rules enabled in one click. Admins only."""

from __future__ import annotations

from typing import Any

import msgspec
from croniter import croniter

from app.accounts.services import Principal, workspace_zone
from app.audit import services as audit
from app.automation import actions as steps
from app.automation import conditions, engine
from app.automation import context as records
from app.automation.starters import BY_KEY as STARTERS
from app.automation.tables import Rule, RuleVersion, Run
from app.lib.clock import now
from app.lib.db import current_uow
from app.lib.errors import Forbidden, Invalid, NotFound
from app.lib.i18n import gettext
from realtime import log as event_log
from realtime.events import CATALOGUE

DEFINITION = ("name", "trigger", "event", "schedule", "delay_minutes", "conditions", "actions", "rate_limit")
RULE_COLUMNS = (Rule.id, Rule.name, Rule.position, Rule.enabled, Rule.version, Rule.trigger, Rule.event,
                Rule.schedule, Rule.next_run_at, Rule.delay_minutes, Rule.conditions, Rule.actions, Rule.rate_limit,
                Rule.starter, Rule.created_at, Rule.updated_at)
LISTENER_NAME = "automation.rules"
"""The engine's durable listener (app.automation.domain)."""
PREVIEW_LIMIT = 200
RUN_STATUSES = ("pending", "not_matched", "done", "waiting", "retrying", "partial", "failed", "stopped",
                "rate_limited", "depth_limit")


def _admin(actor: Principal) -> None:
    if not actor.has_role("admin"):
        raise Forbidden("Only an admin can change automation rules.")


def events() -> list[str]:
    """The events a rule may be triggered by: the catalogue's, but the live-only ones."""
    return sorted(name for name, t in CATALOGUE.items() if not t.ephemeral)


def check(values: dict[str, Any]) -> dict[str, Any]:
    """A rule's definition as stored, or Invalid naming what to fix."""
    name = str(values.get("name") or "").strip()
    if not name or len(name) > 200:
        raise Invalid("name must be 1 to 200 characters.", field="name")
    trigger = values.get("trigger") or "event"
    if trigger not in ("event", "delay", "schedule"):
        raise Invalid("trigger must be event, delay or schedule.", field="trigger")
    event = str(values.get("event") or "")
    schedule = str(values.get("schedule") or "").strip()
    if trigger == "schedule":
        event = ""
        if not croniter.is_valid(schedule) or len(schedule.split()) != 5:
            raise Invalid("schedule must be a cron expression of five fields, like 0 9 * * 1 (Mondays at 9:00).",
                          field="schedule")
    else:
        schedule = ""
        if event not in events():
            raise Invalid("Unknown event %(event)s; pick one from the catalogue.", field="event", event=repr(event),
                          extra={"events": events()})
    delay = values.get("delay_minutes") or 0
    if not isinstance(delay, int) or delay < 0 or delay > 60 * 24 * 60 or (trigger == "delay" and delay < 1):
        raise Invalid("delay_minutes must be 1 to 86400 for a delayed trigger.", field="delay_minutes")
    rate = values.get("rate_limit") or 0
    if not isinstance(rate, int) or not 0 <= rate <= 1000:
        raise Invalid("rate_limit must be 0 (none) to 1000 runs per hour per contact.", field="rate_limit")
    return {"name": name, "trigger": trigger, "event": event, "schedule": schedule,
            "delay_minutes": delay if trigger == "delay" else 0,
            "conditions": conditions.check(values.get("conditions")), "actions": steps.check(values.get("actions")),
            "rate_limit": rate}


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("conditions", "actions", "definition", "leaves", "ids"):
        if isinstance(row.get(key), (str, bytes)):
            row[key] = msgspec.json.decode(row[key])
    return row


async def list_rules() -> list[dict[str, Any]]:
    rows = await Rule.select(*RULE_COLUMNS).order_by(Rule.position).order_by(Rule.id)
    counts = {r["rule"]: r for r in await current_uow().connection.fetch(
        "SELECT rule, count(*) AS runs, count(*) FILTER (WHERE matched) AS fired, max(created_at) AS last_run "
        "FROM automation_run GROUP BY rule")}
    return [{**_decode(dict(r)), "runs": counts[r["id"]]["runs"] if r["id"] in counts else 0,
             "fired": counts[r["id"]]["fired"] if r["id"] in counts else 0,
             "last_run": counts[r["id"]]["last_run"] if r["id"] in counts else None} for r in rows]


async def get(rule_id: int) -> dict[str, Any]:
    row = await Rule.select(*RULE_COLUMNS).where(Rule.id == rule_id).first()
    if row is None:
        raise NotFound("No rule %(rule_id)s.", rule_id=rule_id)
    return _decode(dict(row))


async def versions(rule_id: int) -> list[dict[str, Any]]:
    await get(rule_id)
    rows = await RuleVersion.select(RuleVersion.version, RuleVersion.definition, RuleVersion.created_by_label,
                                    RuleVersion.created_at).where(RuleVersion.rule == rule_id).order_by(
        RuleVersion.version, ascending=False)
    return [_decode(dict(r)) for r in rows]


async def create(actor: Principal, values: dict[str, Any], *, enabled: bool = False,
                 starter: str = "") -> dict[str, Any]:
    _admin(actor)
    clean = check(values)
    position = await current_uow().connection.fetchval("SELECT coalesce(max(position), 0) + 1 FROM automation_rule")
    rows = await Rule.insert(Rule(**clean, enabled=enabled, position=position, starter=starter,
                                  created_by=actor.user_id)).returning(Rule.id)
    rule_id = int(rows[0]["id"])
    await _listen_from_now()
    await RuleVersion.insert(RuleVersion(rule=rule_id, version=1, definition=clean, created_by_label=actor.label))
    await audit.record("automation_rule.created", actor_id=actor.user_id, actor=actor.label,
                       target_type="automation_rule", target_id=rule_id, detail={"name": clean["name"],
                                                                                 "enabled": enabled})
    await engine.plan_schedule(rule_id)
    return await get(rule_id)


async def _listen_from_now() -> None:
    """The engine's cursor starts with the workspace's first rule, at the log's end: rules act on what happens from
    their creation on (a cursor made earlier would hold the log's trimming back for events no rule wanted; one made
    later, by the worker's first visit, would miss the events between)."""
    end = (await event_log.bounds()).last
    await current_uow().connection.execute(
        "INSERT INTO listener_cursor (name, events, last_tx, last_event_id) VALUES ($1, '{}', $2::xid8, $3) "
        "ON CONFLICT (name) DO NOTHING", LISTENER_NAME, end.tx, end.id)


async def update(actor: Principal, rule_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """Save a new definition: a new version when anything changed (runs name the version they evaluated)."""
    _admin(actor)
    current = await get(rule_id)
    merged = {k: values[k] if k in values and values[k] is not None else current[k] for k in DEFINITION}
    clean = check(merged)
    if all(clean[k] == current[k] for k in DEFINITION):
        return current
    version = current["version"] + 1
    await Rule.update({**{getattr(Rule, k): v for k, v in clean.items()}, Rule.version: version,
                       Rule.updated_at: now()}).where(Rule.id == rule_id)
    await RuleVersion.insert(RuleVersion(rule=rule_id, version=version, definition=clean,
                                         created_by_label=actor.label))
    await audit.record("automation_rule.updated", actor_id=actor.user_id, actor=actor.label,
                       target_type="automation_rule", target_id=rule_id, detail={"version": version})
    await engine.plan_schedule(rule_id)
    return await get(rule_id)


async def set_enabled(actor: Principal, rule_id: int, enabled: bool) -> dict[str, Any]:
    _admin(actor)
    current = await get(rule_id)
    if current["enabled"] != enabled:
        await Rule.update({Rule.enabled: enabled, Rule.updated_at: now()}).where(Rule.id == rule_id)
        await audit.record("automation_rule.enabled" if enabled else "automation_rule.disabled",
                           actor_id=actor.user_id, actor=actor.label, target_type="automation_rule",
                           target_id=rule_id)
        await engine.plan_schedule(rule_id)
    return await get(rule_id)


async def move(actor: Principal, rule_id: int, position: int) -> dict[str, Any]:
    """Rules run in order of position: put this one at `position` (1 = first), the others keep their order."""
    _admin(actor)
    await get(rule_id)
    ids = [r["id"] for r in await list_rules() if r["id"] != rule_id]
    position = max(1, min(position, len(ids) + 1))
    ids.insert(position - 1, rule_id)
    conn = current_uow().connection
    await conn.execute("UPDATE automation_rule r SET position = x.pos FROM unnest($1::int[]) WITH ORDINALITY "
                       "AS x(id, pos) WHERE r.id = x.id", ids)
    await audit.record("automation_rule.moved", actor_id=actor.user_id, actor=actor.label,
                       target_type="automation_rule", target_id=rule_id, detail={"position": position})
    return await get(rule_id)


async def delete(actor: Principal, rule_id: int) -> None:
    _admin(actor)
    rule = await get(rule_id)
    await Rule.delete().where(Rule.id == rule_id)
    await audit.record("automation_rule.deleted", actor_id=actor.user_id, actor=actor.label,
                       target_type="automation_rule", target_id=rule_id, detail={"name": rule["name"]})


async def enable_starter(actor: Principal, key: str) -> dict[str, Any]:
    """One click: the starter becomes an enabled rule (or the one made from it before is enabled again)."""
    _admin(actor)
    starter = STARTERS.get(key)
    if starter is None:
        raise NotFound("No starter rule %(key)s.", key=key)
    existing = await Rule.select(Rule.id).where(Rule.starter == key).first()
    if existing is not None:
        return await set_enabled(actor, existing["id"], True)
    return await create(actor, {"name": gettext(starter.name), **starter.definition}, enabled=True, starter=key)


# -- test and preview --------------------------------------------------------------------------------------------

async def test(definition: dict[str, Any], kind: str, record_id: int) -> dict[str, Any]:
    """Would this rule fire for the record, and why: each leaf with the value it read and its result."""
    tree = conditions.check(definition.get("conditions"))
    ctx = await records.for_record(kind, record_id)
    evaluation = conditions.evaluate(tree, ctx, now=now(), zone=await workspace_zone())
    planned = steps.check(definition.get("actions") or [])
    missing = sorted({steps.ACTIONS[a["type"]].needs for a in planned
                      if steps.ACTIONS[a["type"]].needs and not ctx.get(steps.ACTIONS[a["type"]].needs)})
    return {"matched": evaluation.matched, "leaves": evaluation.leaves, "actions": [a["type"] for a in planned],
            "missing": missing}


async def preview(definition: dict[str, Any]) -> dict[str, Any]:
    """How many records match the conditions now (the most recent PREVIEW_LIMIT of the trigger's kind)."""
    tree = conditions.check(definition.get("conditions"))
    event = str(definition.get("event") or "")
    kind = "order" if event.startswith("order.") else "conversation" if event.startswith(
        ("conversation.", "message.", "queue.", "call.")) else "contact"
    table = {"order": "shop_order", "conversation": "conversation", "contact": "contact"}[kind]
    where = " WHERE deleted_at IS NULL" if kind == "contact" else ""
    ids = [r["id"] for r in await current_uow().connection.fetch(
        f"SELECT id FROM {table}{where} ORDER BY id DESC LIMIT $1", PREVIEW_LIMIT)]  # noqa: S608 (fixed names)
    when, tz = now(), await workspace_zone()
    matched = []
    for record_id in ids:
        ctx = await records.load({f"{kind}_id": record_id})
        if conditions.evaluate(tree, ctx, now=when, zone=tz).matched:
            matched.append(record_id)
    return {"kind": kind, "checked": len(ids), "matches": len(matched), "sample": matched[:10]}


# -- the run log -------------------------------------------------------------------------------------------------

async def runs(*, rule_id: int | None = None, contact_id: int | None = None, status: str | None = None,
               q: str = "", limit: int = 50, before: int | None = None) -> list[dict[str, Any]]:
    """Runs newest first, by rule or by contact, filtered by status and a search over the event, the rule's name,
    the note and the actions' outcomes."""
    if status is not None and status not in RUN_STATUSES:
        raise Invalid("status must be one of: %(choices)s.", field="status", choices=", ".join(RUN_STATUSES))
    rows = await current_uow().connection.fetch(
        "SELECT r.id, r.rule AS rule_id, ru.name AS rule_name, r.version, r.event_id, r.event_name, r.depth, "
        "r.contact_id, c.name AS contact_name, r.conversation_id, r.order_id, r.status, r.matched, r.leaves, "
        "r.actions, r.note, r.created_at, r.updated_at FROM automation_run r "
        "JOIN automation_rule ru ON ru.id = r.rule LEFT JOIN contact c ON c.id = r.contact_id "
        "WHERE ($1::int IS NULL OR r.rule = $1) AND ($2::int IS NULL OR r.contact_id = $2) "
        "AND ($3::text IS NULL OR r.status = $3) AND ($5::bigint IS NULL OR r.id < $5) "
        "AND ($4 = '' OR r.event_name ILIKE '%' || $4 || '%' OR ru.name ILIKE '%' || $4 || '%' "
        "     OR r.note ILIKE '%' || $4 || '%' OR r.actions::text ILIKE '%' || $4 || '%' "
        "     OR coalesce(c.name, '') ILIKE '%' || $4 || '%') "
        "ORDER BY r.id DESC LIMIT $6", rule_id, contact_id, status, q.strip()[:100], before, min(limit, 200))
    return [_decode(dict(r)) for r in rows]


async def run(run_id: int) -> dict[str, Any]:
    row = await Run.select().where(Run.id == run_id).first()
    if row is None:
        raise NotFound("No run %(run_id)s.", run_id=run_id)
    return _decode(dict(row))
