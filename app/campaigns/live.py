"""Live campaign page: progress counts and the recipients table's first page, pushed to the supervisors' sockets
after each batch of the sender and each tracking milestone (reloaded from the database, never taken from the
event)."""

from __future__ import annotations

from app.accounts.services import Principal
from app.campaigns import services
from app.campaigns.views import PAGE, labels
from app.lib.db import TenantRef
from app.lib.errors import NotFound
from app.lib.templates import render_text
from realtime import renders
from realtime.events import Event
from realtime.render import EVERYONE


@renders("campaign.progress", "campaign.recipient_changed", audience=EVERYONE)
async def campaign_page(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    campaign_id = event.data.get("campaign_id")
    if campaign_id is None:
        return None
    try:
        c = await services.get(int(campaign_id))
    except NotFound:
        return None
    first_page, _ = await services.recipients(int(campaign_id), limit=PAGE)
    return render_text("_partials/campaign_live.html", {"c": c, "first_page": first_page, "oob": True, **labels()})
