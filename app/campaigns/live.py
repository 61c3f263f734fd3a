"""Live campaign page: progress counts and the changed recipients' rows, pushed to the supervisors' sockets after
each batch of the sender (reloaded from the database, never taken from the event)."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal
from app.campaigns import services
from app.campaigns.views import PAGE, labels
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
    first_page = None
    if event.name == "campaign.progress":
        # The table's first page as a whole: when a scheduled campaign starts, its rows appear on an open page.
        first_page, _ = await services.recipients(int(campaign_id), limit=PAGE)
    else:
        ids = [int(i) for i in event.data.get("recipient_ids") or []][:MAX_ROWS]
        rows = await services.recipients_by_id(int(campaign_id), ids) if ids else []
    return render_text("_partials/campaign_live.html", {"c": c, "rows": rows, "first_page": first_page, "oob": True,
                                                        **labels()})
