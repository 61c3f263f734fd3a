"""Live console: an agent's offers (with their countdown) on the agent's own consoles, the team's pending offers on
supervisors' consoles (rendered once per role), and the message telling an agent they were set away for missing
offers."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal
from app.lib import i18n
from app.lib.db import TenantRef
from app.lib.templates import render_text
from app.routing import services
from realtime import renders
from realtime.events import Event
from realtime.render import BY_ROLE, CONCERNED

OFFER_EVENTS = ("routing.offered", "routing.offer_closed")


async def offers_context(tenant: TenantRef, user: Principal) -> dict[str, Any]:
    """What the offers panel shows: the viewer's own pending offers; a supervisor's role also sees the team's."""
    mine = await services.pending_offers(user) if user.user_id else []
    team = await services.pending_offers(user, everyone=True) if user.has_role("supervisor") else []
    return {"tenant": tenant, "user": user, "offers": mine, "team_offers": team}


@renders(*OFFER_EVENTS, audience=CONCERNED)
async def console_offers(event: Event, tenant: TenantRef, user: Principal) -> str:
    """The agent's offers: a new one appears with its countdown, a closed one disappears."""
    ctx = await offers_context(tenant, user)
    return render_text("_partials/console_offers.html", {**ctx, "oob": True})



@renders(*OFFER_EVENTS, audience=BY_ROLE)
async def console_team_offers(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """Every pending offer of the team with a link to why that agent, for supervisors (once per role)."""
    if not user.has_role("supervisor"):
        return None
    ctx = await offers_context(tenant, user)
    return render_text("_partials/console_team_offers.html", {**ctx, "oob": True})


@renders("routing.missed_away", audience=CONCERNED)
async def console_missed_away(event: Event, tenant: TenantRef, user: Principal) -> str:
    """Tell the agent why they are away now (their status panel shows the state itself)."""
    text = i18n.ngettext("You were set away because you missed %(num)d offer in a row. Set yourself available "
                         "when you are back.",
                         "You were set away because you missed %(num)d offers in a row. Set yourself available "
                         "when you are back.", int(event.data["misses"]))
    return render_text("_partials/console_routing_flash.html", {"message": text})
