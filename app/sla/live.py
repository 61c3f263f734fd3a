"""SLA on the consoles: each item's badge (the console's extra context), the badges redrawn when a conversation's
clocks change, and the supervisors' alert line on a warning or a breach, rendered once per role."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal
from app.conversations.console import panel_context
from app.conversations.live import handler_of
from app.lib.db import TenantRef
from app.lib.templates import render_text
from app.sla import clocks
from realtime import renders
from realtime.events import Event
from realtime.render import BY_ROLE, CONCERNED


async def console_badges(ctx: dict[str, Any]) -> dict[str, Any]:
    """`sla`: conversation id -> its most urgent running clock, for the waiting and "mine" items."""
    ids = sorted({c["id"] for c in [*ctx["waiting"], *ctx["mine"]]})
    return {"sla": await clocks.badges(ids)}


async def _panels(tenant: TenantRef, user: Principal, *names: str) -> str:
    ctx = await panel_context(tenant, user)
    ctx.update(tenant=tenant, user=user, oob=True)
    return "".join(render_text(f"_partials/console_{name}.html", ctx) for name in names)


@renders("sla.clocks_changed", audience=BY_ROLE)
async def console_queue_badges(event: Event, tenant: TenantRef, user: Principal) -> str:
    """The queue panel again (its badges), once per role."""
    return await _panels(tenant, user, "queue")


@renders("sla.clocks_changed", audience=CONCERNED.but(users=handler_of))
async def console_mine_badges(event: Event, tenant: TenantRef, user: Principal) -> str:
    """ "My conversations" again, for the operator handling the conversation."""
    return await _panels(tenant, user, "mine")


@renders("sla.warning", "sla.breached", audience=BY_ROLE)
async def supervisor_alert(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """One line on top of the supervisors' SLA alerts panel (an operator's console gets nothing)."""
    if not user.has_role("supervisor"):
        return None
    conversation = await clocks.names(int(event.data["conversation_id"]))
    if conversation is None:
        return None
    alert = conversation | {"metric": event.data["metric"], "at": event.at,
                            "kind": "breached" if event.name == "sla.breached" else "warning"}
    return render_text("_partials/sla_alert.html", {"tenant": tenant, "alert": alert})
