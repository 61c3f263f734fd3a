"""Live console: how queue and presence events become out-of-band fragments on every console that may see them."""

from __future__ import annotations

from app.accounts.services import Principal
from app.conversations.console import panel_context
from app.lib.db import TenantRef
from app.lib.templates import render_text
from realtime import renders
from realtime.events import Event


@renders("queue.item_added", "queue.item_taken", "queue.item_removed", "presence.changed", "user.updated",
         "call.updated", "conversation.assigned", "conversation.snoozed", "conversation.reopened",
         "conversation.closed", "conversation.merged")
async def console_panels(event: Event, tenant: TenantRef, user: Principal) -> str:
    """Re-render every panel for this user (reloaded inside the tenant's unit of work: counts, mine, team)."""
    ctx = await panel_context(tenant, user)
    ctx.update(tenant=tenant, user=user, oob=True)
    return "".join(render_text(f"_partials/console_{name}.html", ctx) for name in ("queue", "mine", "presence",
                                                                                    "totals"))
