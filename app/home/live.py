"""Live home: the owner's numbers follow orders, payments, new clients and conversations as they happen (the queue,
mine, presence and totals panels are the console's own pushes, app.conversations.live)."""

from __future__ import annotations

from app.accounts.services import Principal
from app.home import services
from app.lib.db import TenantRef
from app.lib.templates import render_text
from realtime import renders
from realtime.events import Event
from realtime.render import BY_ROLE, shared


@renders("order.created", "order.updated", "order.status_changed", "contact.created", "contact_import.progress",
         audience=BY_ROLE)
async def home_business(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    if not user.has_role("admin"):
        return None  # revenue is for admins and the owner only
    # The same figures for every admin role: read once per event (realtime.render.shared).
    ctx = {"business": await shared("home_business", services.business), "tenant": tenant, "user": user, "oob": True}
    return render_text("_partials/home_business.html", ctx)


@renders("queue.item_added", "queue.item_taken", "queue.item_removed", audience=BY_ROLE)
async def home_open_conversations(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """A queue event changes the open conversations figure of the business card, nothing else in it: that figure
    alone (one count), not the month's orders and revenue again on every conversation that comes and goes."""
    if not user.has_role("admin"):
        return None  # the business card is for admins and the owner only
    count = await shared("home_open_conversations", services.open_conversations)
    return render_text("_partials/home_open_conversations.html", {"open_conversations": count, "oob": True})
