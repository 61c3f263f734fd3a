"""SLA on the consoles: each item's badge (the console's extra context), the badges redrawn when a conversation's
clocks change, and the supervisors' alert line on a warning or a breach, rendered once per role."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal
from app.conversations.console import panel_context
from app.conversations.live import handler_of
from app.lib.db import TenantRef, current_uow
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
    conversation_id = int(event.data["conversation_id"])
    row = await clocks.conversation(conversation_id)
    if row is None:
        return None
    names = await _names(conversation_id)
    return render_text("_partials/sla_alert.html", {
        "tenant": tenant, "event": event, "kind": "breached" if event.name == "sla.breached" else "warning",
        "metric": event.data["metric"], "conversation": row | names})


async def _names(conversation_id: int) -> dict[str, Any]:
    row = await current_uow().connection.fetchrow(
        "SELECT ct.name AS contact_name, c.from_address, q.name AS queue_name, u.name AS assigned_to_name "
        "FROM conversation c JOIN queue q ON q.id = c.queue LEFT JOIN contact ct ON ct.id = c.contact "
        "LEFT JOIN app_user u ON u.id = c.assigned_to WHERE c.id = $1", conversation_id)
    return dict(row) if row else {}
