"""Live automation: a contact card's run list refreshes when a rule ran for that contact, and a rule's "notify a
user" shows a toast on every page that user has open (the base layout's #sb-toasts, app.tasks' too)."""

from __future__ import annotations

import html

from app.accounts.services import Principal
from app.automation import services
from app.automation.views import texts
from app.lib.db import TenantRef
from app.lib.templates import render_text
from realtime import renders
from realtime.events import Event
from realtime.render import CONCERNED, EVERYONE


@renders("automation.run_logged", audience=EVERYONE)
async def card_runs(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    contact_id = event.data.get("contact_id")
    if not contact_id or f"contact:{contact_id}" not in event.channels:
        return None
    return render_text("_partials/automation_card.html", {
        "tenant": tenant, "runs": await services.runs(contact_id=int(contact_id), limit=10),
        "contact_id": contact_id, **texts(), "oob": True})


@renders("automation.notified", audience=CONCERNED)
async def toast(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    if event.data.get("user_id") != user.user_id:
        return None
    return (f'<div id="sb-toasts" hx-swap-oob="beforeend"><div class="toast" role="status" '
            f'data-testid="automation-toast">{html.escape(str(event.data.get("text", "")))}</div></div>')
