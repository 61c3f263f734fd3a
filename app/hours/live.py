"""Business hours on the live console: the queue panel again (with its "closed until ..." badges) when a queue
opens or closes, once per role; and the timer job that announces each opening and closing (services.announce)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.accounts.services import Principal
from app.conversations.console import panel_context
from app.hours import services
from app.hours.events import QUEUE_HOURS_CHANGED
from app.lib.clock import now
from app.lib.db import TenantRef, resolve_active, tenant_context
from app.lib.templates import render_text
from realtime import renders
from realtime.events import Event
from realtime.render import BY_ROLE


@renders(QUEUE_HOURS_CHANGED.name, audience=BY_ROLE)
async def console_queue_hours(event: Event, tenant: TenantRef, user: Principal) -> str:
    """The queue panel the role may see, with the queues closed now marked."""
    ctx = await panel_context(tenant, user)
    ctx.update(tenant=tenant, user=user, oob=True)
    return render_text("_partials/console_queue.html", ctx)


async def tick(payload: dict[str, Any]) -> None:
    """Job: a queue's opening or closing time came. Idempotent: it announces the state at the time it runs."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    # Handed over a moment early (the queue's clock is PostgreSQL's): announce the state from the due instant.
    moment = now()
    if payload.get("at"):
        moment = max(moment, dt.datetime.fromisoformat(payload["at"]))
    async with tenant_context(tenant):
        await services.announce(int(payload["queue_id"]), moment)
