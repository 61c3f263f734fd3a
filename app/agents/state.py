"""The agent state machine: the one place that writes `agent_state` and keeps `agent_state_interval`.

`set_state` is the contract other branches use (routing sets `away` with reason `missed_offers`); the rules that
derive busy and wrap-up from behaviour are in app.agents.services, which calls it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.agents import events
from app.agents.tables import CHOSEN, STATES
from app.lib.clock import now
from app.lib.db import current_uow
from app.lib.errors import Invalid
from realtime.publish import emit

_SELECT = ('SELECT id, "user" AS user_id, state, reason, since, wrapup_until, chosen, chosen_reason, call_blocks '
           'FROM agent_state WHERE "user" = $1 FOR UPDATE')
_UPDATE = ('UPDATE agent_state SET state = $2, reason = $3, since = $4, wrapup_until = $5, chosen = $6, '
           'chosen_reason = $7 WHERE "user" = $1 '
           'RETURNING id, "user" AS user_id, state, reason, since, wrapup_until, chosen, chosen_reason, call_blocks')


async def locked(user_id: int) -> dict[str, Any]:
    """The agent's row, locked for this unit of work (created `offline` the first time)."""
    conn = current_uow().connection
    row = await conn.fetchrow(_SELECT, user_id)
    if row is None:
        await conn.execute('INSERT INTO agent_state ("user", state) VALUES ($1, \'offline\') '
                           'ON CONFLICT ("user") DO NOTHING', user_id)
        row = await conn.fetchrow(_SELECT, user_id)
    return dict(row)


async def set_state(user_id: int, state: str, *, reason: str = "", actor: Any = None,
                    wrapup_until: dt.datetime | None = None) -> dict[str, Any]:
    """Move an agent to `state` inside the current unit of work: lock (or create) the row, close the open interval
    and open the new one, emit agent.state_changed {user_id, state, reason, previous}. Setting the state it is
    already in (same reason) changes nothing and emits nothing. `available` and `away` are remembered as the
    agent's own choice (restored when a console connects or work ends). Returns the row with `previous` and
    `changed`."""
    if state not in STATES:
        raise Invalid("Unknown agent state %(state)s.", field="state", state=state)
    reason = (reason or "").strip()
    if len(reason) > 40:
        raise Invalid("The reason is at most 40 characters.", field="reason")
    row = await locked(user_id)
    previous = row["state"]
    until = wrapup_until if state == "wrapup" else None
    if previous == state and row["reason"] == reason and row["wrapup_until"] == until:
        return {**row, "previous": previous, "changed": False}
    conn = current_uow().connection
    t = now()
    chosen, chosen_reason = (state, reason) if state in CHOSEN else (row["chosen"], row["chosen_reason"])
    if previous != state or row["reason"] != reason:
        await conn.execute('UPDATE agent_state_interval SET ended_at = greatest($2, started_at) '
                           'WHERE "user" = $1 AND ended_at IS NULL', user_id, t)
        await conn.execute('INSERT INTO agent_state_interval ("user", state, reason, started_at) '
                           'VALUES ($1, $2, $3, $4)', user_id, state, reason, t)
        since = t
    else:
        since = row["since"]
    updated = await conn.fetchrow(
        _UPDATE, user_id, state, reason, since, until, chosen, chosen_reason)
    if previous != state or row["reason"] != reason:
        await emit(events.AGENT_STATE_CHANGED, user_id=user_id, state=state, reason=reason, previous=previous)
    return {**dict(updated), "previous": previous, "changed": True}
