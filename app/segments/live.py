"""Live segments: the segment list's rows (names and counts) refresh for every supervisor who has it open when a
segment or a static list changes."""

from __future__ import annotations

from app.accounts.services import Principal
from app.lib.db import TenantRef
from app.lib.templates import render_text
from app.segments import services
from realtime import renders
from realtime.events import Event
from realtime.render import BY_ROLE


@renders("segment.changed", audience=BY_ROLE)
async def segment_rows(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    if not user.has_role("supervisor"):
        return None
    rows = await services.list_segments()
    return render_text("_partials/segment_rows.html", {
        "tenant": tenant, "user": user, "segments": rows, "counts": await services.counts([r["id"] for r in rows]),
        "oob": True})
