"""What the operator console shows: one function per panel, used by the page, its refresh and the live pushes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from app import channels
from app.accounts import services as accounts
from app.accounts.services import Principal
from app.conversations import dispositions, services
from app.lib.clock import now
from app.lib.db import TenantRef
from realtime.render import shared as render_shared

PANELS = ("queue", "mine", "presence", "totals")


async def panel_context(tenant: TenantRef, user: Principal) -> dict[str, Any]:
    """Everything the console panels render, reloaded (never taken from an event payload)."""
    users = [u for u in await render_shared("users", accounts.list_users) if u["status"] == "active"]
    # Who is doing what (state, reason, since) is the agents domain's: its console extra fills these in.
    people = [{"id": u["id"], "name": u["name"], "role": u["role"], "status": "offline", "reason": "",
               "since": None} for u in users]
    # A fragment shared by a role is rendered for nobody in particular (user id 0): it has no conversations.
    mine = await services.mine(user) if user.user_id else []
    ctx = {"waiting": await services.waiting(user), "mine": mine,
           "codes": await dispositions.by_queue(sorted({c["queue_id"] for c in mine})) if mine else {},
           "suggested_codes": dispositions.SUGGESTED,
           "stats": await services.stats(user), "people": people, "now": now().timestamp(),
           "user_id": user.user_id, "my_status": "offline", "my_reason": "",
           "queues": [q for q in await services.queues() if services.visible(q, user)]}
    for channel in channels.implementations().values():
        if channel.console_extras is not None:
            ctx.update(await channel.console_extras(ctx))
    for extra in _extras:
        ctx.update(await extra(ctx))
    return ctx


async def item_context(tenant: TenantRef, user: Principal, rows: list[dict[str, Any]], *,
                       domains: bool = True) -> dict[str, Any]:
    """What `_partials/console_queue_item.html` needs for a few waiting `rows` alone (a live queue event): the
    extras of the channels and (`domains`) of the domains (SLA badges, the caller's value, a call's state), asked
    about these rows only. With no rows and `domains=False`: what every channel shows whatever the items (the
    team's live calls)."""

    async def load() -> dict[str, Any]:
        ctx: dict[str, Any] = {"waiting": rows, "mine": [], "people": [], "user_id": 0, "queues": [], "now": None}
        wanted = {c["channel"] for c in rows}
        for key, channel in sorted(channels.implementations().items()):
            if channel.console_extras is not None and (key in wanted or not rows):
                ctx.update(await channel.console_extras(ctx))
        for extra in _extras if domains else ():
            ctx.update(await extra(ctx))
        return ctx

    # Nothing here depends on the viewer (no user, no queues): once per live event for every role.
    ctx = dict(await render_shared(("item_context", tuple(c["id"] for c in rows), domains), load))
    ctx.update(tenant=tenant, user=user)
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
