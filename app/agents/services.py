"""Presence from behaviour: the rules that put an agent in each state. Every write goes through state.set_state.

- `available` and `away` (with a reason) are chosen by the agent (console, REST); the choice is kept in
  `agent_state.chosen` and comes back when a console connects or work ends.
- `busy` and `wrapup` are derived from what the agent does, never chosen: busy while a call is live or when they
  have work and no free slot on any channel (app.agents.load); wrap-up while a conversation of theirs waits for a
  required disposition code, or for the queue's wrap-up seconds after they closed one (a delayed job ends it).
  `recompute` derives them again; the worker's durable listener calls it on every conversation and call event.
- `offline` follows the sockets: the last console leaving (or the presence sweep after a crash) sets it, the first
  one connecting restores the choice (realtime.presence calls `on_presence` in the same unit of work).
Away reasons are a fixed, translatable list (AWAY_REASONS); `missed_offers` is set by routing, not chosen.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.accounts.services import Principal
from app.agents import load, state
from app.agents.tables import CHANNELS
from app.audit import services as audit
from app.conversations import dispositions
from app.lib import jobs
from app.lib.clock import now
from app.lib.db import current_uow, resolve_active, tenant_context
from app.lib.errors import Invalid
from realtime.events import Event

AWAY_REASONS = ("break", "lunch", "training", "meeting")
"""What an agent may give as the reason for `away` (translated on screen through templates.WORDS)."""
SYSTEM_REASONS = ("missed_offers",)
"""Away reasons only the system sets (routing: N offers missed in a row)."""
WRAPUP_JOB = "agents.wrapup_over"
EARLY = dt.timedelta(seconds=30)
"""A wrap-up job handed over this much before its time (the queue's clock is PostgreSQL's) still ends it."""
WORK_EVENTS = frozenset({"queue.item_added", "queue.item_taken", "queue.item_removed", "conversation.assigned",
                         "conversation.snoozed", "conversation.reopened", "conversation.closed",
                         "conversation.merged", "call.updated"})
"""What changes an agent's load: taking, handing over, closing, a call starting or ending."""

_ROW = ('SELECT "user" AS user_id, state, reason, since, wrapup_until, chosen, chosen_reason, call_blocks '
        'FROM agent_state WHERE "user" = $1 FOR UPDATE')


async def _existing(user_id: int) -> dict[str, Any] | None:
    """The agent's row locked, or None for someone who never connected a console (offline, nothing to derive)."""
    row = await current_uow().connection.fetchrow(_ROW, user_id)
    return dict(row) if row else None


async def derive(user_id: int, row: dict[str, Any], at: dt.datetime | None = None) -> tuple[str, str, Any]:
    """(state, reason, wrapup_until) the agent is in by their choice and their work, as if online. In this order:
    away (chosen), busy on a live call, wrap-up owed (a required code), timed wrap-up, busy at capacity on every
    channel, available."""
    at = at or now()
    if row["chosen"] == "away":
        return "away", row["chosen_reason"], None
    used = (await load.loads([user_id]))[user_id]
    if used["on_call"]:  # a live call outranks any wrap-up still owed
        return "busy", "call", None
    if await dispositions.pending(user_id) is not None:
        return "wrapup", "disposition", None
    if row["wrapup_until"] is not None and row["wrapup_until"] > at:
        return "wrapup", "timer", row["wrapup_until"]
    if any(used["used"].values()):
        caps = (await load.capacities([user_id]))[user_id]
        if all(used["used"][c] >= caps.get(c, 0) for c in CHANNELS):
            return "busy", "capacity", None
    return "available", "", None


async def recompute(user_id: int, *, at: dt.datetime | None = None) -> dict[str, Any] | None:
    """Put an online agent in the state their choice and work call for (offline stays offline). Idempotent."""
    row = await _existing(user_id)
    if row is None or row["state"] == "offline":
        return row
    target, reason, until = await derive(user_id, row, at)
    return await state.set_state(user_id, target, reason=reason, wrapup_until=until)


async def on_presence(user_id: int, status: str) -> None:
    """realtime.presence's watcher: `online` (the first console connected) brings an offline agent back to their
    choice and work; `offline` (the last one left, or the sweep) sets offline."""
    if status == "offline":
        row = await _existing(user_id)
        if row is not None and row["state"] != "offline":
            await state.set_state(user_id, "offline")
        return
    row = await state.locked(user_id)
    if row["state"] == "offline":
        target, reason, until = await derive(user_id, row)
        await state.set_state(user_id, target, reason=reason, wrapup_until=until)


async def choose(actor: Principal, chosen: str, reason: str = "") -> dict[str, Any]:
    """The agent picks `available` or `away` with a reason (console picker, socket, REST). Busy, wrap-up and offline
    follow from what they do, so they are refused with a message saying so. Offline (no console open): the choice is
    kept and applies when a console connects."""
    chosen = (chosen or "").strip()
    reason = (reason or "").strip()
    if chosen in ("busy", "wrapup"):
        raise Invalid("Busy and wrap-up follow from your work (a call, full capacity, a wrap-up); choose available "
                      "or away.", field="state")
    if chosen == "offline":
        raise Invalid("Offline follows from closing your consoles; choose available or away.", field="state")
    if chosen not in ("available", "away"):
        raise Invalid("Unknown state %(state)s; choose available or away.", field="state", state=repr(chosen))
    if chosen == "away" and reason not in AWAY_REASONS:
        raise Invalid("Unknown away reason %(reason)s; use one of %(reasons)s.", field="reason",
                      reason=repr(reason), reasons=", ".join(AWAY_REASONS))
    if chosen == "available" and reason:
        raise Invalid("Available takes no reason.", field="reason")
    row = await state.locked(actor.user_id)
    await current_uow().connection.execute(
        'UPDATE agent_state SET chosen = $2, chosen_reason = $3 WHERE "user" = $1', actor.user_id, chosen, reason)
    if row["state"] != "offline":
        await recompute(actor.user_id)
    return await status_of(actor.user_id)


async def status_of(user_id: int) -> dict[str, Any]:
    """One agent's state as the API and the console show it (offline with the default choice if never seen)."""
    rows = await statuses([user_id])
    return rows[user_id]


async def statuses(user_ids: list[int]) -> dict[int, dict[str, Any]]:
    """States of several agents, with their free room per channel and seconds in the state."""
    if not user_ids:
        return {}
    rows = await current_uow().connection.fetch(
        'SELECT "user" AS user_id, state, reason, since, wrapup_until, chosen, chosen_reason, call_blocks '
        'FROM agent_state WHERE "user" = ANY($1::int[])', user_ids)
    by_user = {r["user_id"]: dict(r) for r in rows}
    rooms = await load.room(user_ids)
    t = now()
    out: dict[int, dict[str, Any]] = {}
    for uid in user_ids:
        row = by_user.get(uid) or {"user_id": uid, "state": "offline", "reason": "", "since": None,
                                   "wrapup_until": None, "chosen": "available", "chosen_reason": "",
                                   "call_blocks": True}
        row["seconds_in_state"] = int((t - row["since"]).total_seconds()) if row["since"] else 0
        row["room"] = rooms.get(uid, dict.fromkeys(CHANNELS, 0))
        out[uid] = row
    return out


MAX_INTERVALS = 1000
MAX_SPAN = dt.timedelta(days=93)


async def intervals(user_id: int, since: dt.datetime | None = None,
                    until: dt.datetime | None = None) -> list[dict[str, Any]]:
    """An agent's states that overlap [since, until) (default: the last 24 hours), oldest first, at most
    MAX_INTERVALS: what the reports read."""
    t = now()
    until = until or t
    since = since or until - dt.timedelta(days=1)
    if since.tzinfo is None or until.tzinfo is None:
        raise Invalid("Give times with their UTC offset (2026-12-01T09:00:00+02:00).", field="since")
    if since >= until or until - since > MAX_SPAN:
        raise Invalid("The period must end after it starts and span at most %(days)s days.", field="until",
                      days=MAX_SPAN.days)
    rows = await current_uow().connection.fetch(
        'SELECT state, reason, started_at, ended_at FROM agent_state_interval WHERE "user" = $1 '
        "AND started_at < $3 AND (ended_at IS NULL OR ended_at > $2) ORDER BY started_at, id LIMIT $4",
        user_id, since, until, MAX_INTERVALS)
    return [{**dict(r), "seconds": int(((r["ended_at"] or t) - r["started_at"]).total_seconds())} for r in rows]


# -- reactions to work -----------------------------------------------------------------------------------------

async def start_wrapup(conversation_id: int) -> int | None:
    """A conversation was closed or wrapped up: its operator stays in wrap-up for the queue's seconds from the
    close (idempotent: the end is computed from `closed_at`). Returns the operator's id."""
    conv = await current_uow().connection.fetchrow(
        "SELECT c.assigned_to, c.status, c.closed_at, c.wrapup_code, q.wrapup_seconds FROM conversation c "
        "JOIN queue q ON q.id = c.queue WHERE c.id = $1", conversation_id)
    if conv is None or conv["status"] != "closed" or not conv["assigned_to"] or conv["closed_at"] is None:
        return None
    user_id = int(conv["assigned_to"])
    until = conv["closed_at"] + dt.timedelta(seconds=conv["wrapup_seconds"])
    t = now()
    if conv["wrapup_seconds"] and until > t and conv["wrapup_code"] != "abandoned":
        row = await _existing(user_id)
        if row is not None:
            await current_uow().connection.execute(
                'UPDATE agent_state SET wrapup_until = greatest(coalesce(wrapup_until, $2), $2) WHERE "user" = $1',
                user_id, until)
            await jobs.enqueue(WRAPUP_JOB, {"user_id": user_id, "until": until.isoformat()}, delay=until - t,
                               dedupe_key=f"{WRAPUP_JOB}:{user_id}:{until.timestamp()}")
    return user_id


async def on_work(event: Event) -> None:
    """Durable listener: the agents an event is about (its `user_id` and `user:N` topics) get their state derived
    again; a close starts the operator's timed wrap-up."""
    users = {int(t.split(":", 1)[1]) for t in event.channels if t.startswith("user:")}
    if event.data.get("user_id"):
        users.add(int(event.data["user_id"]))
    conversation_id = int(event.data.get("conversation_id") or 0)
    if conversation_id and event.name in ("queue.item_removed", "conversation.closed"):
        operator = await start_wrapup(conversation_id)
        if operator:
            users.add(operator)
    if conversation_id:
        handler = await current_uow().connection.fetchval(
            "SELECT assigned_to FROM conversation WHERE id = $1", conversation_id)
        if handler:
            users.add(int(handler))
    for user_id in sorted(users):
        await recompute(user_id)


async def wrapup_over(payload: dict[str, Any]) -> None:
    """Job: an agent's timed wrap-up ended; back to what their choice and work call for. Idempotent."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    at = now()
    if payload.get("until"):
        at = max(at, min(dt.datetime.fromisoformat(payload["until"]), at + EARLY))
    async with tenant_context(tenant):
        await recompute(int(payload["user_id"]), at=at)


# -- capacity ----------------------------------------------------------------------------------------------------

MAX_SLOTS = 100


async def capacity_of(user_id: int) -> dict[str, Any]:
    caps = (await load.capacities([user_id]))[user_id]
    blocks = await current_uow().connection.fetchval('SELECT call_blocks FROM agent_state WHERE "user" = $1', user_id)
    return {"user_id": user_id, **{c: caps[c] for c in CHANNELS}, "call_blocks": True if blocks is None else blocks}


async def set_capacity(actor: Principal, user_id: int, slots: dict[str, int | None],
                       call_blocks: bool | None = None) -> dict[str, Any]:
    """Admins set how many items of each channel an agent handles at once (0: none of that channel) and whether a
    live call blocks new chats and SMS for them."""
    for channel, value in slots.items():
        if channel not in CHANNELS:
            raise Invalid("Unknown channel %(channel)s; use %(channels)s.", field=channel, channel=repr(channel),
                          channels=", ".join(CHANNELS))
        if value is not None and not 0 <= value <= MAX_SLOTS:
            raise Invalid("Slots must be 0 to %(max)s.", field=channel, max=MAX_SLOTS)
    conn = current_uow().connection
    for channel, value in slots.items():
        if value is not None:
            await conn.execute('INSERT INTO agent_capacity ("user", channel, slots) VALUES ($1, $2, $3) '
                               'ON CONFLICT ("user", channel) DO UPDATE SET slots = EXCLUDED.slots',
                               user_id, channel, value)
    if call_blocks is not None:
        await state.locked(user_id)
        await conn.execute('UPDATE agent_state SET call_blocks = $2 WHERE "user" = $1', user_id, call_blocks)
    after = await capacity_of(user_id)
    await audit.record("agent.capacity_changed", actor_id=actor.user_id, actor=actor.label, target_type="user",
                       target_id=user_id, detail={k: v for k, v in after.items() if k != "user_id"})
    await recompute(user_id)
    return after
