"""SLA clocks: started, met, paused, resumed and stopped by what happens to a conversation (app.sla.listener feeds
them from the event spine), and the warning and breach timers.

A clock copies its policy's terms when it starts (target, warning share, business hours, pause statuses), so a
policy edit never resets or moves a running clock: the edit applies to clocks that start afterwards (Chatwoot
freezes thresholds per applied SLA for the same reason). Pausing keeps `paused_at`; resuming adds the paused time
(open seconds for a business-hours clock) to `paused_seconds` and moves warn_at and due_at by it.

Timers: each running clock has one delayed job for its warning and one for its breach. A job fires once, locks the
row and re-checks it: a met, stopped or paused clock is left alone (resuming schedules new jobs), a clock whose
time moved later is rescheduled, and `warned_at`/`breached_at` make the event happen once however many jobs fire.
A breach whose warning has not been raised yet (both jobs due at once on a busy worker) raises the warning first,
so `sla.warning` always precedes `sla.breached`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.lib import jobs
from app.lib.clock import now
from app.lib.db import current_tenant, current_uow, resolve_active, tenant_context
from app.sla import events, policies
from app.sla.calendar import calendar_for, schedule
from realtime.publish import emit

CHECK_JOB = "sla.check"
RESPONSES = ("first_response", "next_response")
RUNNING = "met_at IS NULL AND stopped_at IS NULL"


async def conversation(conversation_id: int) -> dict[str, Any] | None:
    """What the clocks need of a conversation. Its priority comes from the routing domain's `conversation.priority`
    when that column exists (0 otherwise): read through to_jsonb, so this domain does not depend on it."""
    row = await current_uow().connection.fetchrow(
        "SELECT c.id, c.status, c.channel, c.queue AS queue_id, c.created_at, c.closed_at, "
        "coalesce((to_jsonb(c) ->> 'priority')::int, 0) AS priority FROM conversation c WHERE c.id = $1",
        conversation_id)
    return dict(row) if row else None


async def start(conv: dict[str, Any], metric: str, at: dt.datetime, cycle: int = 0) -> int | None:
    """Start `metric`'s clock (this cycle) on the conversation under the policy that matches it now; None when no
    policy sets that target or the clock exists already."""
    policy = await policies.match(conv["queue_id"], conv["channel"], conv["priority"])
    if policy is None or not policy[f"{metric}_seconds"]:
        return None
    target, share = int(policy[f"{metric}_seconds"]), int(policy["warn_percent"])
    calendar = await calendar_for(conv["queue_id"], policy["business_hours"])
    warn_at, due_at = schedule(calendar, at, target, share, 0.0)
    clock_id = await current_uow().connection.fetchval(
        "INSERT INTO sla_clock (conversation, metric, cycle, policy, queue, target_seconds, warn_percent, "
        "business_hours, pause_statuses, started_at, warn_at, due_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
        "ON CONFLICT (conversation, metric, cycle) DO NOTHING RETURNING id",
        conv["id"], metric, cycle, policy["id"], conv["queue_id"], target, share, policy["business_hours"],
        list(policy["pause_statuses"]), at, warn_at, due_at)
    if clock_id is not None:
        await _timers(clock_id, warn_at, due_at)
    return clock_id


async def start_queued(conv: dict[str, Any], at: dt.datetime) -> list[int]:
    """The conversation entered a queue: first response and resolution start unless they ran already (a transfer
    to another queue keeps the clocks it has)."""
    started = [await start(conv, "first_response", at), await start(conv, "resolution", at)]
    return [c for c in started if c is not None]


async def _seen(conversation_id: int, column: str, at: dt.datetime) -> dict[str, Any]:
    row = await current_uow().connection.fetchrow(
        f"INSERT INTO sla_conversation (conversation, {column}) VALUES ($1, $2) "  # noqa: S608 (a fixed column name)
        f"ON CONFLICT (conversation) DO UPDATE SET {column} = greatest(sla_conversation.{column}, EXCLUDED.{column}) "
        "RETURNING last_agent_reply_at, last_customer_at", conversation_id, at)
    return dict(row)


async def agent_replied(conv: dict[str, Any], at: dt.datetime) -> int:
    """An agent wrote to the customer (or answered the call): response clocks are met; the resolution clock waits
    while the last message is ours, when its policy pauses on `awaiting_customer`."""
    await _seen(conv["id"], "last_agent_reply_at", at)
    met = await current_uow().connection.fetch(
        f"UPDATE sla_clock SET met_at = $2, paused_at = NULL, paused_by = NULL, "  # noqa: S608
        "breached_at = coalesce(breached_at, CASE WHEN $2 > due_at THEN due_at END) "
        f"WHERE conversation = $1 AND metric = ANY($3::varchar[]) AND {RUNNING} RETURNING id",
        conv["id"], at, list(RESPONSES))
    paused = await pause(conv["id"], "awaiting_customer", at)
    return len(met) + paused


async def customer_wrote(conv: dict[str, Any], at: dt.datetime) -> int:
    """The customer wrote: after an agent's reply a next-response clock starts (one per message that follows a
    reply), and a resolution clock waiting for the customer runs again."""
    seen = await _seen(conv["id"], "last_customer_at", at)
    changed = await resume(conv["id"], "awaiting_customer", at)
    conn = current_uow().connection
    if seen["last_agent_reply_at"] is not None and not await conn.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM sla_clock WHERE conversation = $1 AND metric = ANY($2::varchar[]) "  # noqa: S608
            f"AND {RUNNING})", conv["id"], list(RESPONSES)):
        cycle = await conn.fetchval("SELECT coalesce(max(cycle), 0) + 1 FROM sla_clock WHERE conversation = $1 "
                                    "AND metric = 'next_response'", conv["id"])
        changed += await start(conv, "next_response", at, cycle) is not None
    return changed


async def pause(conversation_id: int, status: str, at: dt.datetime) -> int:
    """Running clocks that pause on `status` stop counting (a clock paused already keeps its first reason)."""
    only = "AND metric = 'resolution' " if status == "awaiting_customer" else ""
    rows = await current_uow().connection.fetch(
        f"UPDATE sla_clock SET paused_at = $3, paused_by = $2 WHERE conversation = $1 AND {RUNNING} "  # noqa: S608
        f"AND paused_at IS NULL AND $2 = ANY(pause_statuses) {only}RETURNING id", conversation_id, status, at)
    return len(rows)


async def resume(conversation_id: int, status: str, at: dt.datetime) -> int:
    """Clocks that `status` paused count again; their warning and due times move on by the paused time (counted in
    the clock's calendar) and get new timers."""
    conn = current_uow().connection
    rows = await conn.fetch(
        f"SELECT * FROM sla_clock WHERE conversation = $1 AND {RUNNING} AND paused_by = $2 FOR UPDATE",  # noqa: S608
        conversation_id, status)
    for row in rows:
        calendar = await calendar_for(row["queue"], row["business_hours"])
        paused = row["paused_seconds"] + calendar.elapsed(row["paused_at"], max(at, row["paused_at"]))
        warn_at, due_at = schedule(calendar, row["started_at"], row["target_seconds"], row["warn_percent"], paused)
        await conn.execute(
            "UPDATE sla_clock SET paused_at = NULL, paused_by = NULL, paused_seconds = $2, warn_at = $3, due_at = $4 "
            "WHERE id = $1", row["id"], paused, warn_at, due_at)
        await _timers(row["id"], warn_at, due_at)
    return len(rows)


async def closed(conversation_id: int, at: dt.datetime) -> int:
    """The conversation closed: resolution is met, responses still owed stop (missed if already past due)."""
    conn = current_uow().connection
    rows = await conn.fetch(
        f"UPDATE sla_clock SET met_at = CASE WHEN metric = 'resolution' THEN $2::timestamptz END, "  # noqa: S608
        "stopped_at = CASE WHEN metric = 'resolution' THEN NULL ELSE $2::timestamptz END, "
        "paused_at = NULL, paused_by = NULL, "
        "breached_at = coalesce(breached_at, CASE WHEN $2 > due_at AND paused_at IS NULL THEN due_at END) "
        f"WHERE conversation = $1 AND {RUNNING} RETURNING id", conversation_id, at)
    return len(rows)


async def reopened(conv: dict[str, Any], at: dt.datetime) -> int:
    """A closed conversation was reopened: a new resolution cycle starts (the customer is waiting again)."""
    conn = current_uow().connection
    if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM sla_clock WHERE conversation = $1 "  # noqa: S608
                           f"AND metric = 'resolution' AND {RUNNING})", conv["id"]):
        return 0
    cycle = await conn.fetchval("SELECT coalesce(max(cycle), -1) + 1 FROM sla_clock WHERE conversation = $1 "
                                "AND metric = 'resolution'", conv["id"])
    return int(await start(conv, "resolution", at, cycle) is not None)


# -- timers ------------------------------------------------------------------------------------------------------

def _key(clock_id: int, kind: str, when: dt.datetime) -> str:
    return f"{CHECK_JOB}:{current_tenant().slug}:{clock_id}:{kind}:{when.timestamp():.3f}"


async def _timers(clock_id: int, warn_at: dt.datetime, due_at: dt.datetime, *, only: str | None = None,
                  own_key: str | None = None) -> None:
    """One job per clock, kind and time: a time queued already is not queued twice (a resume that moved the time
    queues the new one). `own_key`: the job that is running now came early, and its own key stays taken while it
    runs, so its successor for the same time is queued without one."""
    t = now()
    for kind, when in (("warn", warn_at), ("breach", due_at)):
        if only is not None and kind != only:
            continue
        key = _key(clock_id, kind, when)
        await jobs.enqueue(CHECK_JOB, {"clock_id": clock_id, "kind": kind, "key": key},
                           delay=max(when - t, dt.timedelta(0)), dedupe_key=None if key == own_key else key)


async def check(payload: dict[str, Any]) -> None:
    """Job: a clock's warning or due time may have come. Idempotent (see the module's docstring)."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        await fire(int(payload["clock_id"]), str(payload["kind"]), own_key=payload.get("key"))


async def fire(clock_id: int, kind: str, *, own_key: str | None = None) -> bool:
    """Raise the clock's warning or breach if its time has come and it is running; True when it did."""
    conn = current_uow().connection
    row = await conn.fetchrow(f"SELECT * FROM sla_clock WHERE id = $1 AND {RUNNING} FOR UPDATE", clock_id)  # noqa: S608
    if row is None or row["paused_at"] is not None:
        return False
    when = row["warn_at"] if kind == "warn" else row["due_at"]
    done = row["warned_at"] if kind == "warn" else row["breached_at"]
    if done is not None:
        return False
    t = now()
    if t < when:  # the queue handed it over early (its clock is PostgreSQL's), or the time moved: wait again
        await _timers(clock_id, row["warn_at"], row["due_at"], only=kind, own_key=own_key)
        return False
    if kind == "warn":
        await conn.execute("UPDATE sla_clock SET warned_at = $2 WHERE id = $1", clock_id, t)
        event = events.SLA_WARNING
    else:
        await conn.execute("UPDATE sla_clock SET breached_at = due_at, warned_at = coalesce(warned_at, $2) "
                           "WHERE id = $1", clock_id, t)
        event = events.SLA_BREACHED
    queue_id = await conn.fetchval("SELECT queue FROM conversation WHERE id = $1", row["conversation"])
    if event is events.SLA_BREACHED and row["warned_at"] is None:
        # The breach came first (a busy worker took both due jobs at once, or the warning's time had passed when
        # the clock started): the warning is still raised, before it, so every breach is preceded by its warning
        # for supervisors, automations and webhooks alike. The warning's own job then finds it done.
        await emit(events.SLA_WARNING, conversation_id=row["conversation"], metric=row["metric"],
                   due_at=row["due_at"].isoformat(), clock_id=clock_id, queue_id=queue_id)
    await emit(event, conversation_id=row["conversation"], metric=row["metric"], due_at=row["due_at"].isoformat(),
               clock_id=clock_id, queue_id=queue_id)
    return True


# -- reading -----------------------------------------------------------------------------------------------------

def state(row: dict[str, Any], at: dt.datetime) -> str:
    """running, paused, warning, breached (running past due), met, missed (met late, or closed past due), stopped."""
    if row["met_at"] is not None:
        return "missed" if row["breached_at"] is not None or row["met_at"] > row["due_at"] else "met"
    if row["stopped_at"] is not None:
        return "missed" if row["breached_at"] is not None else "stopped"
    if row["paused_at"] is not None:
        return "paused"
    if at >= row["due_at"]:
        return "breached"
    return "warning" if at >= row["warn_at"] else "running"


async def of_conversation(conversation_id: int) -> list[dict[str, Any]]:
    rows = await current_uow().connection.fetch(
        "SELECT * FROM sla_clock WHERE conversation = $1 ORDER BY started_at, id", conversation_id)
    t = now()
    return [dict(r) | {"conversation_id": r["conversation"], "policy_id": r["policy"], "state": state(dict(r), t)}
            for r in rows]


async def running(conversation_ids: list[int] | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Running clocks, due soonest first (paused ones last): of some conversations, or all."""
    rows = await current_uow().connection.fetch(
        f"SELECT * FROM sla_clock WHERE {RUNNING} AND ($1::int[] IS NULL OR conversation = ANY($1::int[])) "  # noqa: S608
        "ORDER BY paused_at IS NOT NULL, due_at, id LIMIT $2", conversation_ids, limit)
    t = now()
    return [dict(r) | {"conversation_id": r["conversation"], "policy_id": r["policy"], "state": state(dict(r), t)}
            for r in rows]


async def running_visible(queue_ids: list[int], limit: int) -> list[dict[str, Any]]:
    """Running clocks of conversations in these queues, due soonest first (paused ones last)."""
    rows = await current_uow().connection.fetch(
        f"SELECT k.* FROM sla_clock k JOIN conversation c ON c.id = k.conversation "  # noqa: S608
        f"WHERE k.{RUNNING.replace(' AND ', ' AND k.')} AND c.queue = ANY($1::int[]) "
        "ORDER BY k.paused_at IS NOT NULL, k.due_at, k.id LIMIT $2", queue_ids or [0], limit)
    t = now()
    return [dict(r) | {"conversation_id": r["conversation"], "policy_id": r["policy"], "state": state(dict(r), t)}
            for r in rows]


async def badges(conversation_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The console's badge per conversation: its most urgent running clock (earliest due, paused ones only when
    nothing else runs)."""
    out: dict[int, dict[str, Any]] = {}
    if not conversation_ids:
        return out
    for row in await running(conversation_ids, limit=10_000):
        out.setdefault(row["conversation_id"], row)
    return out


async def alerts(queue_ids: list[int], limit: int = 20) -> list[dict[str, Any]]:
    """Running clocks past their warning or due time in these queues, due soonest first: what a supervisor's SLA
    alerts panel shows when it opens (live alerts are added on top as they happen)."""
    rows = await current_uow().connection.fetch(
        "SELECT k.conversation AS id, k.metric, k.due_at, coalesce(k.breached_at, k.warned_at) AS at, "
        "CASE WHEN k.breached_at IS NULL THEN 'warning' ELSE 'breached' END AS kind, ct.name AS contact_name, "
        "c.from_address, q.name AS queue_name, u.name AS assigned_to_name "
        "FROM sla_clock k JOIN conversation c ON c.id = k.conversation JOIN queue q ON q.id = c.queue "
        "LEFT JOIN contact ct ON ct.id = c.contact LEFT JOIN app_user u ON u.id = c.assigned_to "
        "WHERE k.met_at IS NULL AND k.stopped_at IS NULL AND k.paused_at IS NULL AND k.warned_at IS NOT NULL "
        "AND c.queue = ANY($1::int[]) ORDER BY k.due_at, k.id LIMIT $2", queue_ids or [0], limit)
    return [dict(r) for r in rows]


async def names(conversation_id: int) -> dict[str, Any] | None:
    """What an alert line shows of a conversation: who, which queue, who has it."""
    row = await current_uow().connection.fetchrow(
        "SELECT c.id, ct.name AS contact_name, c.from_address, q.name AS queue_name, u.name AS assigned_to_name "
        "FROM conversation c JOIN queue q ON q.id = c.queue LEFT JOIN contact ct ON ct.id = c.contact "
        "LEFT JOIN app_user u ON u.id = c.assigned_to WHERE c.id = $1", conversation_id)
    return dict(row) if row else None
