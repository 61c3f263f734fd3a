"""Campaigns JSON API under /t/{slug}/api/v1: drafts, send / pause / resume / cancel, recipients, preview.
Supervisors and above (a campaign speaks for the shop to many clients at once)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromQuery, JSONBody

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.campaigns import services
from app.campaigns.schemas import (
    CampaignIn,
    CampaignList,
    CampaignOut,
    CampaignPatch,
    PreviewIn,
    PreviewOut,
    RecipientList,
    RecipientOut,
)
from app.contacts.services import to_struct
from app.lib.wire import PathId, QueryInt

Req = Request[Principal, Any, Any]


def campaign_out(row: dict[str, Any]) -> CampaignOut:
    return to_struct(CampaignOut, row)


class CampaignsApi(Controller):
    path = "/api/v1/campaigns"
    tags = ["campaigns"]
    guards = [requires("supervisor")]

    @post("/", summary="Create a draft campaign (SMS or email to a segment, A/B variants, content per language)")
    async def create(self, request: Req, data: JSONBody[CampaignIn]) -> Response[CampaignOut]:
        return Response(campaign_out(await services.create(request.user, data)), status_code=201)

    @get("/", summary="Campaigns, newest first, with counts per recipient status")
    async def list_campaigns(self, status: FromQuery[str | None] = None, cursor: QueryInt = 0,
                             limit: QueryInt = 50) -> CampaignList:
        rows, nxt = await services.search(status=status, limit=limit, offset=cursor)
        return CampaignList(items=[campaign_out(r) for r in rows], next=str(nxt) if nxt is not None else None)

    @get("/{campaign_id:int}")
    async def read(self, campaign_id: PathId) -> CampaignOut:
        return campaign_out(await services.get(campaign_id))

    @patch("/{campaign_id:int}", summary="Edit a draft (only the fields sent change)")
    async def edit(self, campaign_id: PathId, data: JSONBody[CampaignPatch]) -> CampaignOut:
        return campaign_out(await services.update(campaign_id, data))

    @delete("/{campaign_id:int}", summary="Delete a draft", status_code=204)
    async def remove(self, campaign_id: PathId) -> None:
        await services.delete(campaign_id)

    @post("/{campaign_id:int}/preview", summary="Render every variant for a sample contact", status_code=200)
    async def preview(self, campaign_id: PathId, data: JSONBody[PreviewIn]) -> PreviewOut:
        row = await services.get(campaign_id)
        return to_struct(PreviewOut, await services.preview(campaign_id, data, row["channel"]))

    @post("/{campaign_id:int}/send", summary="Send now, or at scheduled_at; the audience is fixed when it starts",
          status_code=200)
    async def send(self, request: Req, campaign_id: PathId) -> CampaignOut:
        return campaign_out(await services.send(request.user, campaign_id))

    @post("/{campaign_id:int}/pause", summary="Pause: nothing more is sent until resumed", status_code=200)
    async def pause(self, campaign_id: PathId) -> CampaignOut:
        return campaign_out(await services.pause(campaign_id))

    @post("/{campaign_id:int}/resume", status_code=200)
    async def resume(self, campaign_id: PathId) -> CampaignOut:
        return campaign_out(await services.resume(campaign_id))

    @post("/{campaign_id:int}/cancel", summary="Cancel: everyone not sent to yet is skipped ('cancelled')",
          status_code=200)
    async def cancel(self, campaign_id: PathId) -> CampaignOut:
        return campaign_out(await services.cancel(campaign_id))

    @get("/{campaign_id:int}/recipients", summary="Recipients in order, filtered by status; `next` is the cursor")
    async def recipients(self, campaign_id: PathId, status: FromQuery[str | None] = None, cursor: QueryInt = 0,
                         limit: QueryInt = 50) -> RecipientList:
        rows, nxt = await services.recipients(campaign_id, status=status, limit=limit, after=cursor)
        return RecipientList(items=[to_struct(RecipientOut, r) for r in rows],
                             next=str(nxt) if nxt is not None else None)
