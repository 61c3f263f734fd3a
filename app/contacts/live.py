"""Live card: an edit or a note by one user appears on every open card of that contact."""

from __future__ import annotations

from app.accounts import services as accounts
from app.accounts.services import Principal
from app.contacts import fields, services
from app.contacts import fields_spec as spec
from app.lib.db import TenantRef
from app.lib.errors import NotFound
from app.lib.templates import render_text
from app.timeline import services as timeline
from app.timeline.tables import CHANNELS
from realtime import renders
from realtime.events import Event
from realtime.render import BY_ROLE


@renders("contact.updated", "note.added", "interaction.created", "contact.merged", "message.status_changed",
         audience=BY_ROLE)
async def contact_card(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    if f"contact:{event.data.get('contact_id')}" not in event.channels:
        return None
    try:
        card = await services.get(int(event.data["contact_id"]))
    except NotFound:
        return None
    items, nxt = await timeline.page(card["id"], limit=30)
    ctx = {"c": card, "items": items, "next": nxt, "channel": "", "channels": CHANNELS, "tenant": tenant,
           "user": user, "fields": await fields.definitions(), "users": await accounts.list_users(),
           "temperatures": ("hot", "warm", "cold"), "card_fields": spec.CARD, "edit": False, "oob": True}
    sections = "".join(render_text("_partials/contact_section.html", {**ctx, "section": s}) for s in spec.SECTIONS)
    items_html = render_text("_partials/timeline_items.html", ctx)
    return f'{sections}<ol class="timeline" id="timeline-items" hx-swap-oob="true">{items_html}</ol>'
