"""Live campaign page: progress counts and the changed recipients' rows, pushed to the supervisors' sockets after
each batch of the sender (reloaded from the database, never taken from the event)."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal
from app.campaigns import services
from app.campaigns.views import labels
from app.lib.db import TenantRef
from app.lib.errors import NotFound
from app.lib.templates import render_text
from realtime import renders
from realtime.events import Event
from realtime.render import EVERYONE

MAX_ROWS = 200


@renders("campaign.progress", "campaign.recipient_changed", audience=EVERYONE)
async def campaign_page(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    campaign_id = event.data.get("campaign_id")
    if campaign_id is None:
        return None
    try:
        c = await services.get(int(campaign_id))
    except NotFound:
        return None
    rows: list[dict[str, Any]] = []
    ids = [int(i) for i in event.data.get("recipient_ids") or []][:MAX_ROWS]
    if ids:
        rows = await services.recipients_by_id(int(campaign_id), ids)
    return render_text("_partials/campaign_live.html", {"c": c, "rows": rows, "oob": True, **labels()})
