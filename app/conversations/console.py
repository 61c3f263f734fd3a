"""What the operator console shows: one function per panel, used by the page, its refresh and the live pushes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from app import channels
from app.accounts import services as accounts
from app.accounts.services import Principal
from app.conversations import services
from app.lib.clock import now
from app.lib.db import TenantRef
from realtime import presence
from realtime.render import shared as render_shared

PANELS = ("queue", "mine", "presence", "totals")


async def panel_context(tenant: TenantRef, user: Principal) -> dict[str, Any]:
    """Everything the console panels render, reloaded (never taken from an event payload)."""
    team = await render_shared("presence", lambda: presence.team(tenant))
    users = [u for u in await render_shared("users", accounts.list_users) if u["status"] == "active"]
    now_ts = now().timestamp()
    people = [{"id": u["id"], "name": u["name"], "role": u["role"],
               "status": team[u["id"]].status if u["id"] in team else "offline",
               "since": team[u["id"]].since if u["id"] in team else None} for u in users]
    people.sort(key=lambda p: ({"available": 0, "busy": 1, "away": 2}.get(p["status"], 3), p["name"]))
    # A fragment shared by a role is rendered for nobody in particular (user id 0): it has no conversations.
    ctx = {"waiting": await services.waiting(user), "mine": await services.mine(user) if user.user_id else [],
           "stats": await services.stats(user), "people": people, "now": now_ts,
           "my_status": team[user.user_id].status if user.user_id in team else "offline",
           "queues": [q for q in await services.queues() if services.visible(q, user)]}
    for channel in channels.implementations().values():
        if channel.console_extras is not None:
            ctx.update(await channel.console_extras(ctx))
    for extra in _extras:
        ctx.update(await extra(ctx))
    return ctx


Extra = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
_extras: list[Extra] = []


def register_extra(fn: Extra) -> None:
    """More context for the panels from a domain that is not a channel (orders: the caller's value), declared in
    its manifest (`Domain.console_extras`; app/domains.py registers them, once each). A channel declares its own
    in its `Channel` (app/channels.py)."""
    if fn not in _extras:
        _extras.append(fn)


def registered_extras() -> tuple[Extra, ...]:
    return tuple(_extras)
