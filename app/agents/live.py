"""Live console for agent states: a change re-renders the team panel once per role and "my status" on the consoles
of the agent it is about (realtime.render audiences)."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal
from app.agents import services
from app.conversations.live import render_panels
from app.lib.db import TenantRef
from realtime import renders
from realtime.events import Event
from realtime.render import BY_ROLE, CONCERNED, Memo
from realtime.render import shared as render_shared

ORDER = {"available": 0, "busy": 1, "wrapup": 2, "away": 3}


async def console_context(ctx: dict[str, Any]) -> dict[str, Any]:
    """Console extra: every teammate's state, reason and time in state, and my own (the picker's choice)."""
    ids = sorted({p["id"] for p in ctx["people"]} | ({ctx["user_id"]} if ctx.get("user_id") else set()))
    states = await render_shared(("agent_states", tuple(ids)), lambda: services.statuses(ids))
    people = []
    for person in ctx["people"]:
        st = states.get(person["id"])
        if st is not None:
            person = {**person, "status": st["state"], "reason": st["reason"],
                      "since": st["since"].timestamp() if st["since"] else None}
        people.append(person)
    people.sort(key=lambda p: (ORDER.get(p["status"], 4), p["name"]))
    mine = states.get(ctx.get("user_id") or 0)
    out: dict[str, Any] = {"people": people, "away_reasons": services.AWAY_REASONS}
    if mine is not None:
        out.update(my_status=mine["state"], my_reason=mine["reason"], my_chosen=mine["chosen"],
                   my_chosen_reason=mine["chosen_reason"])
    return out


@renders("agent.state_changed", audience=BY_ROLE)
async def console_team(event: Event, tenant: TenantRef, user: Principal) -> str:
    """The team's states: the same for every console of a role."""
    return await render_panels(tenant, user, "team")


async def _agent(event: Event, memo: Memo) -> list[int]:
    return [int(event.data["user_id"])] if event.data.get("user_id") else []


@renders("agent.state_changed", audience=CONCERNED.but(users=_agent))
async def console_my_status(event: Event, tenant: TenantRef, user: Principal) -> str:
    """My status, on my consoles, when it changed (my choice from another tab, work, the hub after my last socket
    left)."""
    return await render_panels(tenant, user, "my_status")
