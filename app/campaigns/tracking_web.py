"""Campaign tracking over HTTP: the public open pixel and click redirect under /t/{slug}/track (no login: the
signed link is the credential), the results API and the results section of the campaign page (live)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.campaigns import results, tracking
from app.lib import reqctx
from app.lib.db import TenantRef
from app.lib.errors import NotFound
from app.lib.ratelimit import Limiter
from app.lib.templates import render_page, render_text
from app.lib.wire import PathId
from realtime import renders
from realtime.events import Event
from realtime.render import EVERYONE

Req = Request[Principal, Any, Any]
LIMIT = Limiter(600, 60.0, name="campaign-tracking")
NO_STORE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


class TrackingViews(Controller):
    path = "/track"
    include_in_schema = False

    @get("/o/{token:str}/{signature:str}")
    async def pixel(self, slug: FromPath[str], token: FromPath[str], signature: FromPath[str]) -> Response[bytes]:
        await LIMIT.check(slug, reqctx.client_ip.get())
        tracking.verify("o", token, signature.removesuffix(".gif"))
        await tracking.opened(token)
        return Response(tracking.PIXEL, media_type="image/gif", headers=NO_STORE)

    @get("/c/{token:str}/{signature:str}")
    async def click(self, slug: FromPath[str], token: FromPath[str], signature: FromPath[str],
                    u: FromQuery[str] = "") -> Redirect:
        await LIMIT.check(slug, reqctx.client_ip.get())
        tracking.verify("c", token, signature, u)
        await tracking.clicked(token)
        return Redirect(tracking.check_target(u), status_code=302, headers=NO_STORE)


class Rates(msgspec.Struct):
    audience: int
    sent: int
    delivered: int
    failed: int
    bounced: int
    opened: int
    clicked: int
    replied: int
    unsubscribed: int
    converted: int
    revenue: int
    """Minor units (cents) of the orders placed within the conversion window."""
    skipped: int = 0
    delivery_rate: float | None = None
    open_rate: float | None = None
    click_rate: float | None = None
    reply_rate: float | None = None
    unsubscribe_rate: float | None = None
    conversion_rate: float | None = None
    lift: float | None = None
    """Conversion rate over the holdout's, minus one; None without a holdout or when nobody in it converted."""
    variant: str | None = None


class Holdout(msgspec.Struct):
    audience: int
    converted: int
    revenue: int
    conversion_rate: float | None


class ResultsOut(msgspec.Struct):
    campaign_id: int
    name: str
    channel: str
    status: str
    conversion_days: int
    currency: str
    """The currency of `revenue` figures (the one most credited orders were placed in)."""
    total: Rates
    variants: list[Rates]
    holdout: Holdout


class CampaignResultsApi(Controller):
    path = "/api/v1/campaigns/{campaign_id:int}/results"
    tags = ["campaigns"]
    guards = [requires("supervisor")]

    @get("/", summary="Delivery, open, click, reply and conversion rates, revenue and lift vs holdout, per variant")
    async def get_results(self, campaign_id: PathId) -> ResultsOut:
        return msgspec.convert(await results.results(campaign_id), ResultsOut)


class CampaignResultsViews(Controller):
    path = "/campaigns/{campaign_id:int}/results"
    include_in_schema = False
    guards = [requires("supervisor")]

    @get("/")
    async def section(self, request: Req, campaign_id: PathId) -> Template:
        return render_page(request, "_partials/campaign_results.html", {"r": await results.results(campaign_id)})


@renders("campaign.recipient_changed", "campaign.progress", audience=EVERYONE)
async def results_section(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """The campaign page's results section, pushed out of band when a milestone or the sender moves."""
    campaign_id = event.data.get("campaign_id")
    if campaign_id is None:
        return None
    try:
        r = await results.results(int(campaign_id))
    except NotFound:
        return None
    return render_text("_partials/campaign_results.html", {"r": r, "oob": True})
