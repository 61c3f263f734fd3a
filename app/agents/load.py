"""Free room per agent and channel, now: what routing may still offer each agent.

Rules (one place):
- Capacity per channel: DEFAULT_CAPACITY (call 1, chat 3, sms 3, email 5) unless the agent has an
  `agent_capacity` row for the channel (admins set it on the team page or PUT /api/v1/agents/{id}/capacity).
- Load: the agent's assigned open conversations (status active or wrapup) per channel; a wrap-up counts until done.
- An active call (a call conversation still active and not ended) leaves no room on BLOCKED_BY_CALL (chat, sms)
  while the agent's `call_blocks` is on (the default; admins may turn it off per agent). E-mail is never blocked.
- Room is 0 on every channel unless the agent's state is available or busy (wrapup, away, offline: none).
Routing adds its own pending offers on top.
"""

from __future__ import annotations

from typing import Any

from app.agents.tables import CHANNELS, WORKING
from app.lib.db import current_uow

DEFAULT_CAPACITY: dict[str, int] = {"call": 1, "chat": 3, "sms": 3, "email": 5}
BLOCKED_BY_CALL = ("chat", "sms")


async def capacities(user_ids: list[int]) -> dict[int, dict[str, int]]:
    """Slots per channel for each agent (defaults where no row overrides)."""
    out = {uid: dict(DEFAULT_CAPACITY) for uid in user_ids}
    rows = await current_uow().connection.fetch(
        'SELECT "user" AS user_id, channel, slots FROM agent_capacity WHERE "user" = ANY($1::int[])', user_ids)
    for row in rows:
        out[row["user_id"]][row["channel"]] = row["slots"]
    return out


async def loads(user_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Assigned open items per channel, and whether a call is live, for each agent."""
    out: dict[int, dict[str, Any]] = {uid: {"used": dict.fromkeys(CHANNELS, 0), "on_call": False}
                                      for uid in user_ids}
    rows = await current_uow().connection.fetch(
        "SELECT assigned_to AS user_id, channel, count(*) AS n, "
        "bool_or(channel = 'call' AND status = 'active' AND ended_at IS NULL) AS on_call "
        "FROM conversation WHERE assigned_to = ANY($1::int[]) AND status IN ('active', 'wrapup') "
        "GROUP BY assigned_to, channel", user_ids)
    for row in rows:
        entry = out[row["user_id"]]
        if row["channel"] in entry["used"]:
            entry["used"][row["channel"]] = int(row["n"])
        entry["on_call"] = entry["on_call"] or bool(row["on_call"])
    return out


async def room(user_ids: list[int] | None = None) -> dict[int, dict[str, int]]:
    """Free slots per channel now for each agent (every agent with a state row when `user_ids` is None; an id
    without a row is offline: 0 everywhere). Runs inside the caller's unit of work."""
    conn = current_uow().connection
    if user_ids is None:
        states = await conn.fetch('SELECT "user" AS user_id, state, call_blocks FROM agent_state')
    else:
        states = await conn.fetch('SELECT "user" AS user_id, state, call_blocks FROM agent_state '
                                  'WHERE "user" = ANY($1::int[])', user_ids)
    by_user = {row["user_id"]: row for row in states}
    ids = list(by_user) if user_ids is None else list(dict.fromkeys(user_ids))
    working = [uid for uid in ids if uid in by_user and by_user[uid]["state"] in WORKING]
    caps = await capacities(working)
    used = await loads(working)
    out: dict[int, dict[str, int]] = {uid: dict.fromkeys(CHANNELS, 0) for uid in ids}
    for uid in working:
        for channel in CHANNELS:
            free = max(0, caps[uid].get(channel, 0) - used[uid]["used"][channel])
            if used[uid]["on_call"] and by_user[uid]["call_blocks"] and channel in BLOCKED_BY_CALL:
                free = 0
            out[uid][channel] = free
    return out
