"""Routing rules: each queue's settings, agents' skills, the router (who gets the next waiting item and why), offers
(accept, reject, time out, withdraw) and overflow.

Everything is decided in PostgreSQL rows, never in process memory, so any number of web processes and workers may
route at once: a router locks its queue's settings row (one router per queue at a time), claims waiting items with
`FOR UPDATE SKIP LOCKED` (a supervisor taking one by hand meanwhile is skipped, not waited for), then locks the
candidates' `agent_state` rows in id order (a router of another queue, or an accept, offering to the same agent
waits). A partial unique index allows one pending offer per item; an accept assigns through the conversation's own
`UPDATE ... WHERE status = 'waiting'`, so of an accept and a manual take exactly one wins. A crash between offer and
accept loses nothing: the offer's timeout job closes it and the item is routed again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from app import channels
from app.accounts.services import Principal
from app.accounts.tables import User
from app.agents import load, state
from app.audit import services as audit
from app.conversations import actions
from app.conversations import services as conversations
from app.conversations.tables import PRIORITY_AGEING_SECONDS, waiting_order
from app.hours.services import hours_for_queue
from app.lib import i18n, jobs
from app.lib.clock import now
from app.lib.db import current_tenant, current_uow, jsonb
from app.lib.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from app.routing import events
from app.routing.tables import STRATEGIES
from app.timeline import services as timeline
from realtime.publish import emit

ROUTE_JOB = "routing.route"
TIMEOUT_JOB = "routing.offer_timeout"
OVERFLOW_JOB = "routing.overflow"
AGEING_SECONDS = PRIORITY_AGEING_SECONDS
"""Priority ageing: an item gains one priority point per this many seconds of waiting (see `_ITEMS`)."""
BATCH = 50
"""Items one routing transaction looks at; the route job runs transactions until nothing more can be offered."""
EARLY = dt.timedelta(seconds=2)
"""A timeout job handed over this much before its time (the queue's clock is PostgreSQL's) still closes the offer."""
SKILL_RE_MAX = 40
REASONS = {"round_robin": "round_robin", "least_busy": "load", "longest_idle": "idle_time"}
"""The reason a strategy's pick is stored with (besides `stickiness` and `skills`)."""
OPEN_AGENT_STATES = ("available", "busy")
"""An agent in another state (wrap-up, away, offline) keeps no pending offer."""


# -- settings ------------------------------------------------------------------------------------------------------

DEFAULTS: dict[str, Any] = {"strategy": "manual", "skills": {}, "sticky_minutes": 0, "offer_timeout": 20,
                            "misses_before_away": 3, "overflow_queue_id": None, "overflow_after": 0}


def _settings_row(queue: dict[str, Any], row: Any) -> dict[str, Any]:
    out = {**DEFAULTS, "queue_id": queue["id"], "queue_key": queue["key"], "queue_name": queue["name"],
           "overflow_queue": None}
    if row is not None:
        out.update({k: row[k] for k in ("strategy", "sticky_minutes", "offer_timeout", "misses_before_away",
                                        "overflow_after")})
        out["skills"] = jsonb(row["skills"]) or {}
        out["overflow_queue_id"] = row["overflow_queue"]
    return out


async def queue_settings(queue_key: str) -> dict[str, Any]:
    queue = await conversations.queue_by_key(queue_key)
    row = await current_uow().connection.fetchrow("SELECT * FROM queue_routing WHERE queue = $1", queue["id"])
    out = _settings_row(queue, row)
    if out["overflow_queue_id"]:
        target = await current_uow().connection.fetchrow("SELECT key FROM queue WHERE id = $1",
                                                         out["overflow_queue_id"])
        out["overflow_queue"] = target["key"] if target else None
    return out


async def all_settings() -> list[dict[str, Any]]:
    return [await queue_settings(q["key"]) for q in await conversations.queues()]


def _check_skills(skills: dict[str, int], field: str = "skills") -> dict[str, int]:
    out: dict[str, int] = {}
    for name, level in skills.items():
        key = (name or "").strip().lower()
        if not key or len(key) > SKILL_RE_MAX:
            raise Invalid("A skill name must be 1 to 40 characters.", field=field)
        if not isinstance(level, int) or not 1 <= level <= 10:
            raise Invalid("The level of %(skill)s must be 1 to 10.", field=field, skill=key)
        out[key] = level
    return out


async def update_settings(actor: Principal, queue_key: str, *, strategy: str, skills: dict[str, int],
                          sticky_minutes: int, offer_timeout: int, misses_before_away: int,
                          overflow_queue: str | None, overflow_after: int) -> dict[str, Any]:
    """Set how a queue hands its items out (admins). Items waiting now are routed at once under the new rules."""
    queue = await conversations.queue_by_key(queue_key)
    if strategy not in STRATEGIES:
        raise Invalid("Unknown strategy %(strategy)s; choose one of: %(choices)s.", field="strategy",
                      strategy=repr(strategy), choices=", ".join(STRATEGIES))
    skills = _check_skills(skills)
    if not 0 <= sticky_minutes <= 60 * 24 * 30:
        raise Invalid("The sticky window must be 0 to 43200 minutes (30 days).", field="sticky_minutes")
    if not 5 <= offer_timeout <= 600:
        raise Invalid("The offer timeout must be 5 to 600 seconds.", field="offer_timeout")
    if not 0 <= misses_before_away <= 100:
        raise Invalid("Missed offers before away must be 0 (never) to 100.", field="misses_before_away")
    if not 0 <= overflow_after <= 86_400:
        raise Invalid("Overflow after must be 0 (never) to 86400 seconds.", field="overflow_after")
    overflow_id = None
    if overflow_queue:
        target = await conversations.queue_by_key(overflow_queue)
        if target["id"] == queue["id"]:
            raise Invalid("A queue cannot overflow into itself; choose another queue.", field="overflow_queue")
        overflow_id = target["id"]
    if overflow_after and overflow_id is None:
        raise Invalid("Choose the overflow queue the items move to after %(seconds)s seconds.",
                      field="overflow_queue", seconds=overflow_after)
    await current_uow().connection.execute(
        "INSERT INTO queue_routing (queue, strategy, skills, sticky_minutes, offer_timeout, misses_before_away, "
        "overflow_queue, overflow_after) VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8) ON CONFLICT (queue) DO UPDATE "
        "SET strategy = EXCLUDED.strategy, skills = EXCLUDED.skills, sticky_minutes = EXCLUDED.sticky_minutes, "
        "offer_timeout = EXCLUDED.offer_timeout, misses_before_away = EXCLUDED.misses_before_away, "
        "overflow_queue = EXCLUDED.overflow_queue, overflow_after = EXCLUDED.overflow_after",
        queue["id"], strategy, json.dumps(skills), sticky_minutes, offer_timeout, misses_before_away, overflow_id,
        overflow_after)
    await audit.record("queue.routing_updated", actor_id=actor.user_id, actor=actor.label, target_type="queue",
                       target_id=queue["key"], detail={"strategy": strategy, "skills": skills,
                                                       "sticky_minutes": sticky_minutes,
                                                       "offer_timeout": offer_timeout,
                                                       "misses_before_away": misses_before_away,
                                                       "overflow_queue": overflow_queue,
                                                       "overflow_after": overflow_after})
    if strategy != "manual":
        await kick(queue["id"])
    return await queue_settings(queue_key)


# -- skills --------------------------------------------------------------------------------------------------------

async def skills_of(user_id: int) -> dict[str, int]:
    rows = await current_uow().connection.fetch(
        'SELECT skill, level FROM agent_skill WHERE "user" = $1 ORDER BY skill', user_id)
    return {r["skill"]: r["level"] for r in rows}


async def set_skills(actor: Principal, user_id: int, skills: dict[str, int]) -> dict[str, int]:
    """Replace a colleague's skills with `skills` (name -> level 1..10)."""
    target = await User.select(User.id, User.name).where(User.id == user_id).first()
    if target is None:
        raise NotFound("No colleague %(user_id)s.", user_id=user_id)
    skills = _check_skills(skills)
    conn = current_uow().connection
    await conn.execute('DELETE FROM agent_skill WHERE "user" = $1 AND NOT (skill = ANY($2::varchar[]))', user_id,
                       list(skills))
    await conn.executemany(
        'INSERT INTO agent_skill ("user", skill, level) VALUES ($1, $2, $3) '
        'ON CONFLICT ("user", skill) DO UPDATE SET level = EXCLUDED.level',
        [(user_id, k, v) for k, v in skills.items()])
    await audit.record("user.skills_updated", actor_id=actor.user_id, actor=actor.label, target_type="user",
                       target_id=user_id, detail={"skills": skills})
    await kick_all()
    return await skills_of(user_id)


async def team_skills() -> list[dict[str, Any]]:
    """Active colleagues with their skills, for the admin page."""
    rows = await current_uow().connection.fetch(
        "SELECT u.id, u.name, u.email, u.role, coalesce(jsonb_object_agg(s.skill, s.level) "
        "FILTER (WHERE s.skill IS NOT NULL), '{}') AS skills FROM app_user u "
        'LEFT JOIN agent_skill s ON s."user" = u.id WHERE u.status = \'active\' GROUP BY u.id ORDER BY u.name, u.id')
    return [{**dict(r), "skills": jsonb(r["skills"])} for r in rows]


async def set_priority(actor: Principal, conversation_id: int, priority: int) -> dict[str, Any]:
    """Raise or lower a waiting item's priority (-10 to 10); higher goes first, ageing lifts the rest over time."""
    row = await actions.visible(actor, conversation_id)
    if not -10 <= priority <= 10:
        raise Invalid("The priority must be -10 to 10.", field="priority")
    await current_uow().connection.execute("UPDATE conversation SET priority = $2 WHERE id = $1", conversation_id,
                                           priority)
    await audit.record("conversation.priority", actor_id=actor.user_id, actor=actor.label,
                       target_type="conversation", target_id=conversation_id, detail={"priority": priority})
    if row["status"] == "waiting":
        await kick(row["queue_id"])
    return {**row, "priority": priority}


async def priority_of(conversation_id: int) -> int:
    return int(await current_uow().connection.fetchval("SELECT priority FROM conversation WHERE id = $1",
                                                       conversation_id) or 0)


# -- the router ----------------------------------------------------------------------------------------------------

_ITEMS = f"""
    SELECT c.id, c.channel, c.contact, c.priority, c.created_at FROM conversation c
    WHERE c.queue = $1 AND c.status = 'waiting'
      AND NOT EXISTS (SELECT 1 FROM routing_offer o WHERE o.conversation = c.id AND o.status = 'pending')
    ORDER BY {waiting_order("c")}
    LIMIT $2 FOR UPDATE OF c SKIP LOCKED
"""  # noqa: S608 (a constant)
"""Waiting items not on offer, best first. The effective priority of an item is `priority + waited seconds /
AGEING_SECONDS`: each AGEING_SECONDS of waiting is worth one point of priority. Ordering by it, highest first, is
ordering by `created_at - priority x AGEING_SECONDS`, earliest first (`now` is the same for every row), which an index
serves (migration 00_02) instead of a sort of the whole queue. Ageing is linear and unbounded, so nothing starves: an
item of priority 0 passes one of priority 5 that arrived 5 x AGEING_SECONDS after it; a steady stream of urgent items
delays the others by at most (difference in priority) x AGEING_SECONDS. Equal effective priority: first come, first
served."""


@dataclasses.dataclass
class Candidate:
    user_id: int
    name: str
    role: str
    since: dt.datetime
    skills: dict[str, int]
    room: dict[str, int]
    pending: dict[str, int]
    open_items: int
    last_work: dt.datetime | None

    def free(self, channel: str) -> int:
        return self.room.get(channel, 0) - self.pending.get(channel, 0)

    def load(self, channel: str) -> float:
        """Load ÷ capacity on the channel: open items and pending offers over those plus the free room."""
        busy = self.open_items + sum(self.pending.values())
        return busy / max(1, busy + self.free(channel))

    def idle_since(self) -> dt.datetime:
        return max(self.since, self.last_work) if self.last_work else self.since


async def _candidates(queue: dict[str, Any]) -> list[Candidate]:
    """Agents available now who see the queue, their `agent_state` rows locked in id order, with what the strategies
    need: skills, free room per channel (app.agents.load.room minus our pending offers), load, idle time."""
    conn = current_uow().connection
    rows = await conn.fetch(
        'SELECT s."user" AS id, s.since, u.name, u.role FROM agent_state s JOIN app_user u ON u.id = s."user" '
        "WHERE s.state = 'available' AND u.status = 'active' ORDER BY s.\"user\" FOR UPDATE OF s")
    rows = [r for r in rows if actions.user_sees(queue, r["role"])]
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    rooms = await load.room(ids)
    skills: dict[int, dict[str, int]] = {}
    for r in await conn.fetch('SELECT "user", skill, level FROM agent_skill WHERE "user" = ANY($1::int[])', ids):
        skills.setdefault(r["user"], {})[r["skill"]] = r["level"]
    pending: dict[int, dict[str, int]] = {}
    for r in await conn.fetch('SELECT "user", channel, count(*) AS n FROM routing_offer WHERE status = \'pending\' '
                              'AND "user" = ANY($1::int[]) GROUP BY 1, 2', ids):
        pending.setdefault(r["user"], {})[r["channel"]] = r["n"]
    work = {r["assigned_to"]: r for r in await conn.fetch(
        "SELECT assigned_to, count(*) FILTER (WHERE status IN ('active', 'wrapup')) AS open_items, "
        "max(taken_at) AS last_taken FROM conversation WHERE assigned_to = ANY($1::int[]) GROUP BY 1", ids)}
    return [Candidate(r["id"], r["name"], r["role"], r["since"], skills.get(r["id"], {}), rooms.get(r["id"], {}),
                      pending.get(r["id"], {}), work[r["id"]]["open_items"] if r["id"] in work else 0,
                      work[r["id"]]["last_taken"] if r["id"] in work else None) for r in rows]


def _has_skills(agent: Candidate, required: dict[str, int]) -> bool:
    return all(agent.skills.get(skill, 0) >= level for skill, level in required.items())


@dataclasses.dataclass
class Pick:
    winner: Candidate | None
    reason: str
    figures: list[dict[str, Any]]


def choose(item: dict[str, Any], agents: list[Candidate], settings: dict[str, Any], *, sticky_to: int | None,
           tried: set[int]) -> Pick:
    """Who gets `item` and why (pure: the router calls it with rows it locked; tests call it with plain values).
    Eligible: the queue's skills at their minimum level, free room on the item's channel, not tried on this item
    yet (an agent who rejected or missed it comes again only when everyone eligible has been tried)."""
    channel, required, now_ts = item["channel"], settings["skills"], now()
    figures: list[dict[str, Any]] = []
    eligible: list[Candidate] = []
    for agent in agents:
        why_not = ("skills" if not _has_skills(agent, required) else "no_room" if agent.free(channel) < 1
                   else "")
        figures.append({"user_id": agent.user_id, "name": agent.name, "skills": agent.skills,
                        "free": agent.free(channel), "load": round(agent.load(channel), 3),
                        "idle_seconds": int((now_ts - agent.idle_since()).total_seconds()),
                        "tried": agent.user_id in tried, "excluded": why_not})
        if not why_not:
            eligible.append(agent)
    fresh = [a for a in eligible if a.user_id not in tried] or eligible
    if not fresh:
        return Pick(None, "", figures)
    strategy = settings["strategy"]
    by_id = {a.user_id: a for a in fresh}
    if sticky_to in by_id:
        return Pick(by_id[sticky_to], "stickiness", figures)
    if strategy == "round_robin":
        pointer = settings.get("rr_last_user") or 0
        ordered = sorted(fresh, key=lambda a: a.user_id)
        winner = next((a for a in ordered if a.user_id > pointer), ordered[0])
    elif strategy == "least_busy":
        winner = min(fresh, key=lambda a: (a.load(channel), a.idle_since(), a.user_id))
    else:  # longest_idle
        winner = min(fresh, key=lambda a: (a.idle_since(), a.user_id))
    skilled_out = sum(1 for f in figures if f["excluded"] == "skills")
    reason = "skills" if required and skilled_out and len(fresh) == 1 else REASONS[strategy]
    return Pick(winner, reason, figures)


async def _sticky(items: list[Any], minutes: int) -> dict[int, int]:
    """conversation id -> the agent who served its contact last within `minutes`."""
    contacts = [i["contact"] for i in items if i["contact"]]
    if not minutes or not contacts:
        return {}
    rows = await current_uow().connection.fetch(
        "SELECT DISTINCT ON (contact) contact, assigned_to FROM conversation WHERE contact = ANY($1::int[]) "
        "AND assigned_to IS NOT NULL AND coalesce(closed_at, taken_at) > now() - make_interval(mins => $2) "
        "ORDER BY contact, coalesce(closed_at, taken_at) DESC", contacts, minutes)
    last = {r["contact"]: r["assigned_to"] for r in rows}
    return {i["id"]: last[i["contact"]] for i in items if i["contact"] in last}


async def route(queue_id: int, *, limit: int = BATCH) -> list[dict[str, Any]]:
    """One routing transaction for a queue (inside the caller's unit of work): offer waiting items, best first, to
    eligible agents until items or agents run out. Returns the offers made."""
    conn = current_uow().connection
    row = await conn.fetchrow("SELECT * FROM queue_routing WHERE queue = $1 FOR UPDATE", queue_id)
    if row is None or row["strategy"] == "manual":
        return []
    queue = await conn.fetchrow("SELECT id, key, name, roles, archived FROM queue WHERE id = $1", queue_id)
    if queue is None or queue["archived"]:
        return []
    settings = {**_settings_row(dict(queue), row), "rr_last_user": row["rr_last_user"]}
    items = await conn.fetch(_ITEMS, queue_id, limit)
    if not items:
        return []
    agents = await _candidates(dict(queue))
    if not agents:
        return []
    sticky = await _sticky(items, settings["sticky_minutes"])
    tried: dict[int, set[int]] = {}
    for r in await conn.fetch('SELECT conversation, "user" FROM routing_offer WHERE conversation = ANY($1::int[]) '
                              "AND status <> 'pending'", [i["id"] for i in items]):
        tried.setdefault(r["conversation"], set()).add(r["user"])
    made: list[dict[str, Any]] = []
    for item in items:
        pick = choose(dict(item), agents, settings, sticky_to=sticky.get(item["id"]),
                      tried=tried.get(item["id"], set()))
        if pick.winner is None:
            continue
        made.append(await _offer(dict(item), pick, settings))
        pick.winner.pending[item["channel"]] = pick.winner.pending.get(item["channel"], 0) + 1
        if pick.reason == "round_robin" or settings["strategy"] == "round_robin":
            settings["rr_last_user"] = pick.winner.user_id
        if all(a.free(c) < 1 for a in agents for c in a.room):
            break
    if settings["rr_last_user"] != row["rr_last_user"]:
        await conn.execute("UPDATE queue_routing SET rr_last_user = $2 WHERE queue = $1", queue_id,
                           settings["rr_last_user"])
    return made


async def _offer(item: dict[str, Any], pick: Pick, settings: dict[str, Any]) -> dict[str, Any]:
    assert pick.winner is not None
    conn = current_uow().connection
    decision_id = await conn.fetchval(
        "INSERT INTO routing_decision (conversation, queue, strategy, winner, reason, candidates) "
        "VALUES ($1, $2, $3, $4, $5, $6::jsonb) RETURNING id", item["id"], settings["queue_id"], settings["strategy"],
        pick.winner.user_id, pick.reason, json.dumps(pick.figures))
    timeout = dt.timedelta(seconds=settings["offer_timeout"])
    offer = await conn.fetchrow(
        'INSERT INTO routing_offer (conversation, queue, "user", channel, decision, expires_at) '
        "VALUES ($1, $2, $3, $4, $5, now() + $6::interval) RETURNING id, expires_at", item["id"],
        settings["queue_id"], pick.winner.user_id, item["channel"], decision_id, timeout)
    await jobs.enqueue(TIMEOUT_JOB, {"offer_id": offer["id"]}, delay=timeout)
    ring = _channel(item["channel"])
    if ring is not None and ring.ring is not None:  # a call also rings the agent's phone (queued work only)
        await ring.ring(offer["id"], item["id"], pick.winner.user_id, settings["offer_timeout"])
    out = {"offer_id": offer["id"], "conversation_id": item["id"], "queue_id": settings["queue_id"],
           "user_id": pick.winner.user_id, "status": "pending", "expires_at": offer["expires_at"].isoformat(),
           "reason": pick.reason}
    await emit(events.ROUTING_OFFERED, **out)
    return out


async def kick(queue_id: int) -> None:
    """Have the queue routed soon: a route job, unless one is still waiting to start. One already running does not
    count (it may have read the queue before this change committed), so nothing added meanwhile is missed; two that
    run at once take turns on the queue's settings row. Never routes inline: the caller's transaction stays short."""
    tenant = current_tenant().slug
    waiting = await current_uow().connection.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM {jobs.QUEUE_TABLE} WHERE entrypoint = $1 AND status = 'queued' "  # noqa: S608
        "AND convert_from(payload, 'UTF8')::jsonb @> jsonb_build_object('tenant', $2::text, 'queue_id', $3::int))",
        ROUTE_JOB, tenant, queue_id)
    if not waiting:
        await jobs.enqueue(ROUTE_JOB, {"queue_id": queue_id})


async def routed_queue_ids() -> list[int]:
    rows = await current_uow().connection.fetch(
        "SELECT r.queue FROM queue_routing r JOIN queue q ON q.id = r.queue WHERE r.strategy <> 'manual' "
        "AND NOT q.archived ORDER BY r.queue")
    return [r["queue"] for r in rows]


async def kick_all() -> None:
    """Room may have opened anywhere (an agent became available, finished an item): route every routed queue."""
    for queue_id in await routed_queue_ids():
        await kick(queue_id)


# -- offers --------------------------------------------------------------------------------------------------------

OFFER_SQL = """
    SELECT o.id, o.conversation AS conversation_id, o.queue AS queue_id, q.name AS queue_name, o."user" AS user_id,
           u.name AS user_name, o.channel, o.status, o.created_at, o.expires_at, o.closed_at, o.reason,
           o.decision AS decision_id, c.subject, c.from_address, ct.name AS contact_name, c.contact AS contact_id
    FROM routing_offer o JOIN queue q ON q.id = o.queue JOIN app_user u ON u.id = o."user"
    JOIN conversation c ON c.id = o.conversation LEFT JOIN contact ct ON ct.id = c.contact
"""


async def offer(actor: Principal, offer_id: int) -> dict[str, Any]:
    """One offer: its agent's, or any for a supervisor; 404 otherwise (the same as for no such offer)."""
    row = await current_uow().connection.fetchrow(OFFER_SQL + " WHERE o.id = $1", offer_id)
    if row is None or (row["user_id"] != actor.user_id and not actor.has_role("supervisor")):
        raise NotFound("No offer %(offer_id)s.", offer_id=offer_id)
    return dict(row)


async def pending_offers(actor: Principal, *, everyone: bool = False) -> list[dict[str, Any]]:
    """Pending offers: the actor's own, or the whole team's (`everyone`, supervisors)."""
    if everyone and not actor.has_role("supervisor"):
        raise Forbidden("Only a supervisor sees the team's offers.")
    sql = OFFER_SQL + " WHERE o.status = 'pending'" + ("" if everyone else ' AND o."user" = $1') + " ORDER BY o.id"
    rows = await current_uow().connection.fetch(sql, *([] if everyone else [actor.user_id]))
    return [dict(r) for r in rows]


async def _close(offer_id: int, status: str, *, reason: str = "", user_id: int | None = None) -> dict[str, Any] | None:
    """Close a pending offer (one UPDATE decides between an accept, a reject, a timeout and a withdrawal)."""
    row = await current_uow().connection.fetchrow(
        "UPDATE routing_offer SET status = $2, closed_at = now(), reason = $3 WHERE id = $1 AND status = 'pending' "
        'AND ($4::int IS NULL OR "user" = $4) RETURNING id, conversation, queue, "user", channel', offer_id, status,
        reason, user_id)
    if row is None:
        return None
    channel = _channel(row["channel"])
    if status != "accepted" and channel is not None and channel.stop_ringing is not None:
        await channel.stop_ringing(row["id"], row["conversation"])
    await emit(events.ROUTING_OFFER_CLOSED, offer_id=row["id"], conversation_id=row["conversation"],
               queue_id=row["queue"], user_id=row["user"], status=status, reason=reason or None)
    return dict(row)


def _channel(key: str) -> channels.Channel | None:
    return channels.implementations().get(key)


async def accept(actor: Principal, offer_id: int) -> dict[str, Any]:
    """The agent takes the offered item: it becomes theirs through the channel's own take (a call is connected).
    409 when it closed already (timed out, withdrawn) or the agent has no room left on its channel."""
    current = await offer(actor, offer_id)
    if current["user_id"] != actor.user_id:
        raise Forbidden("Only the agent it was offered to can accept this offer.")
    conn = current_uow().connection
    # The agent's row first, as a router does: no router offers them more while we check their room.
    await conn.execute('SELECT 1 FROM agent_state WHERE "user" = $1 FOR UPDATE', actor.user_id)
    if current["status"] != "pending" or current["expires_at"] <= now() - EARLY:
        raise Conflict("This offer is no longer open (%(status)s).", status=current["status"])
    room = (await load.room([actor.user_id])).get(actor.user_id, {})
    if room.get(current["channel"], 0) < 1:
        raise Conflict("You have no room for another %(channel)s now; finish one first.", channel=current["channel"])
    if await _close(offer_id, "accepted", user_id=actor.user_id) is None:
        raise Conflict("This offer is no longer open.")
    row = await conversations.accept(actor, current["conversation_id"])  # 409 when a supervisor took it meanwhile
    await kick(current["queue_id"])
    return {**current, "status": "accepted", "conversation": row}


async def accept_answered(offer_id: int, conversation_id: int, user_id: int) -> dict[str, Any] | None:
    """The agent answered the phone that rang for their offer (`call.offer_answered`): accept it as them. When it
    cannot be accepted any more (closed, no room, taken meanwhile) the answered leg is ended instead."""
    user = await User.select(User.id, User.email, User.name, User.role).where(User.id == user_id).first()
    if user is not None:
        agent = Principal(user_id=user_id, email=user["email"], name=user["name"], role=user["role"], via="system",
                          credential_id=0)
        uow = current_uow()
        queued = len(uow._after_commit)
        try:
            async with uow.connection.transaction():
                return await accept(agent, offer_id)
        except DomainError:
            del uow._after_commit[queued:]
    channel = _channel("call")
    if channel is not None and channel.stop_ringing is not None:
        await channel.stop_ringing(offer_id, conversation_id)
    return None


async def reject(actor: Principal, offer_id: int) -> dict[str, Any]:
    """The agent passes: the item goes to the next eligible agent (this one is asked again only when all were)."""
    current = await offer(actor, offer_id)
    if current["user_id"] != actor.user_id:
        raise Forbidden("Only the agent it was offered to can reject this offer.")
    if await _close(offer_id, "rejected", user_id=actor.user_id) is None:
        raise Conflict("This offer is no longer open (%(status)s).", status=current["status"])
    await kick(current["queue_id"])
    return {**current, "status": "rejected"}


async def expire(offer_id: int, *, due: dt.datetime | None = None) -> dict[str, Any] | None:
    """Timeout job: close the offer if still pending at its time, count the agent's miss, route the item again.
    `misses_before_away` misses in a row (since the agent was last away or offline) set them away."""
    conn = current_uow().connection
    row = await conn.fetchrow("SELECT id, expires_at, status FROM routing_offer WHERE id = $1", offer_id)
    if row is None or row["status"] != "pending":
        return None
    at = due or now()
    if row["expires_at"] > at + EARLY:  # handed over early: come back at the offer's own time
        await jobs.enqueue(TIMEOUT_JOB, {"offer_id": offer_id}, delay=row["expires_at"] - at)
        return None
    closed = await _close(offer_id, "timeout")
    if closed is None:
        return None
    user_id, queue_id = closed["user"], closed["queue"]
    limit = await conn.fetchval("SELECT misses_before_away FROM queue_routing WHERE queue = $1", queue_id) or 0
    if limit:
        recent = await conn.fetch(
            'SELECT status FROM routing_offer WHERE "user" = $1 AND status IN (\'accepted\', \'rejected\', '
            "'timeout') AND created_at > coalesce((SELECT max(started_at) FROM agent_state_interval "
            'WHERE "user" = $1 AND state IN (\'away\', \'offline\')), \'-infinity\') ORDER BY closed_at DESC, id DESC '
            "LIMIT $2", user_id, limit)
        now_state = await conn.fetchval('SELECT state FROM agent_state WHERE "user" = $1', user_id)
        if len(recent) == limit and all(r["status"] == "timeout" for r in recent) and now_state in OPEN_AGENT_STATES:
            await state.set_state(user_id, "away", reason="missed_offers")
            await emit(events.ROUTING_MISSED_AWAY, user_id=user_id, misses=limit)
    await kick(queue_id)
    return closed


async def withdraw_for_agent(user_id: int, reason: str) -> list[dict[str, Any]]:
    """The agent went away, offline or into wrap-up: their pending offers close and the items are routed again."""
    ids = await current_uow().connection.fetch(
        'SELECT id FROM routing_offer WHERE "user" = $1 AND status = \'pending\' ORDER BY id', user_id)
    closed = [c for c in [await _close(r["id"], "withdrawn", reason=reason) for r in ids] if c]
    for queue_id in sorted({c["queue"] for c in closed}):
        await kick(queue_id)
    return closed


async def withdraw_for_item(conversation_id: int) -> list[dict[str, Any]]:
    """The item was taken by hand, moved, snoozed or closed: an offer for it closes (the agent's console drops it)."""
    rows = await current_uow().connection.fetch(
        "SELECT o.id, c.status, c.queue = o.queue AS same_queue FROM routing_offer o "
        "JOIN conversation c ON c.id = o.conversation WHERE o.conversation = $1 AND o.status = 'pending'",
        conversation_id)
    closed = []
    for r in rows:
        if r["status"] != "waiting" or not r["same_queue"]:
            reason = {"active": "taken", "closed": "closed"}.get(r["status"], "moved" if not r["same_queue"]
                                                                    else r["status"])
            done = await _close(r["id"], "withdrawn", reason=reason)
            if done:
                closed.append(done)
    return closed


async def capacity_warning(user_id: int, channel: str) -> str | None:
    """Assign check: a colleague given an item by hand above their capacity on its channel (allowed; said)."""
    if channel not in load.DEFAULT_CAPACITY:
        return None
    used = (await load.loads([user_id]))[user_id]["used"].get(channel, 0)
    slots = (await load.capacities([user_id]))[user_id].get(channel, 0)
    if used <= slots:
        return None
    return i18n.gettext("Above capacity: they now have %(used)s of %(slots)s %(channel)s slots in use.",
                        used=used, slots=slots, channel=i18n.gettext(channel))


# -- why this agent ------------------------------------------------------------------------------------------------

async def decisions(actor: Principal, conversation_id: int) -> list[dict[str, Any]]:
    """Every routing decision of an item, newest first, with its candidates and figures (supervisors)."""
    if not actor.has_role("supervisor"):
        raise Forbidden("Only a supervisor sees why an agent was chosen.")
    await actions.visible(actor, conversation_id)
    rows = await current_uow().connection.fetch(
        "SELECT d.id, d.conversation AS conversation_id, d.queue AS queue_id, d.strategy, d.winner AS winner_id, "
        "u.name AS winner_name, d.reason, d.candidates, d.created_at, o.status AS offer_status "
        "FROM routing_decision d LEFT JOIN app_user u ON u.id = d.winner "
        "LEFT JOIN routing_offer o ON o.decision = d.id WHERE d.conversation = $1 ORDER BY d.id DESC LIMIT 50",
        conversation_id)
    return [{**dict(r), "candidates": jsonb(r["candidates"])} for r in rows]


# -- overflow ------------------------------------------------------------------------------------------------------

SYSTEM = Principal(user_id=0, email="", name="Router", role="owner", via="system", credential_id=0)
"""Who moves an item to its overflow queue: the router, with every queue in sight."""


async def _closed(queue_id: int) -> bool:
    """Whether the queue is outside its business hours now (app.hours; no calendar: open around the clock)."""
    hours = await hours_for_queue(queue_id)
    return hours is not None and not hours.is_open(now())


async def new_item(conversation_id: int, queue_id: int) -> dict[str, Any] | None:
    """A new item in a queue: outside the queue's hours it moves to the overflow queue at once (when the queue has
    one); else the queue is routed, and its overflow is checked once the overflow time has passed."""
    row = await current_uow().connection.fetchrow(
        "SELECT r.overflow_after, q.key AS target FROM queue_routing r JOIN queue q ON q.id = r.overflow_queue "
        "WHERE r.queue = $1", queue_id)
    if row is not None and await _closed(queue_id):
        status = await current_uow().connection.fetchval(
            "SELECT status FROM conversation WHERE id = $1 AND queue = $2", conversation_id, queue_id)
        if status == "waiting":
            return await move_to_overflow(conversation_id, row["target"], "closed")
    await kick(queue_id)
    if row is not None and row["overflow_after"]:
        await jobs.enqueue(OVERFLOW_JOB, {"conversation_id": conversation_id, "queue_id": queue_id},
                           delay=dt.timedelta(seconds=row["overflow_after"]),
                           dedupe_key=f"{OVERFLOW_JOB}:{current_tenant().slug}:{conversation_id}:{queue_id}")
    return None


async def overflow(conversation_id: int, queue_id: int) -> dict[str, Any] | None:
    """Overflow job: the item still waits in `queue_id` with no offer and nobody eligible has room for it: it moves to
    the overflow queue (an item on offer, or one an agent could take now, stays)."""
    conn = current_uow().connection
    item = await conn.fetchrow(
        "SELECT c.id, c.channel, c.contact, c.priority, c.created_at, c.contact AS contact_id FROM conversation c "
        "WHERE c.id = $1 AND c.queue = $2 AND c.status = 'waiting' AND NOT EXISTS (SELECT 1 FROM routing_offer o "
        "WHERE o.conversation = c.id AND o.status = 'pending') FOR UPDATE OF c SKIP LOCKED", conversation_id, queue_id)
    row = await conn.fetchrow("SELECT r.*, q.key AS target_key, src.key, src.name, src.roles, src.id AS qid "
                              "FROM queue_routing r JOIN queue q ON q.id = r.overflow_queue "
                              "JOIN queue src ON src.id = r.queue WHERE r.queue = $1", queue_id)
    if item is None or row is None:
        return None
    if await _closed(queue_id):
        return await move_to_overflow(conversation_id, row["target_key"], "closed")
    settings = {**_settings_row({"id": row["qid"], "key": row["key"], "name": row["name"]}, row),
                "rr_last_user": row["rr_last_user"]}
    agents = await _candidates({"id": row["qid"], "roles": row["roles"]})
    if choose(dict(item), agents, settings, sticky_to=None, tried=set()).winner is not None:
        return None
    return await move_to_overflow(conversation_id, row["target_key"], "no_agent")


async def move_to_overflow(conversation_id: int, target_key: str, reason: str) -> dict[str, Any]:
    before = await conversations.get(conversation_id)
    moved = await actions.move(SYSTEM, conversation_id, target_key)
    if moved["contact_id"]:
        await timeline.record(moved["contact_id"], "system", "internal",
                              "Overflow: moved from %(source)s to %(target)s",
                              params={"source": before["queue_name"], "target": moved["queue_name"]},
                              links={"conversation_id": conversation_id}, payload={"event": "overflow",
                                                                                   "reason": reason})
    await emit(events.ROUTING_OVERFLOWED, conversation_id=conversation_id, queue_id=before["queue_id"],
               to_queue_id=moved["queue_id"], reason=reason)
    return moved
