"""Deals JSON API under /t/{slug}/api/v1: deals, moves between stages, the stages themselves (admin)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts.services import to_struct
from app.deals import services
from app.deals.schemas import DealIn, DealOut, MoveIn, StageChangeOut, StageIn, StageOut
from app.lib.wire import PathId, QueryId

Req = Request[Principal, Any, Any]


def deal_out(row: dict[str, Any]) -> DealOut:
    return DealOut(**{k: v for k, v in row.items() if k in DealOut.__struct_fields__ and k != "history"},
                   history=[to_struct(StageChangeOut, h) for h in row["history"]])


class DealsApi(Controller):
    path = "/api/v1"
    tags = ["deals"]
    guards = [signed_in]

    @get("/deals", summary="Deals, by stage and position")
    async def list_deals(self, contact_id: QueryId = None) -> list[DealOut]:
        return [deal_out(d) for s in await services.board(contact_id) for d in s["deals"]]

    @post("/deals", summary="Open a deal")
    async def create(self, request: Req, data: JSONBody[DealIn]) -> DealOut:
        return deal_out(await services.create(request.user, data))

    @get("/deals/{deal_id:int}")
    async def read(self, deal_id: PathId) -> DealOut:
        return deal_out(await services.get(deal_id))

    @post("/deals/{deal_id:int}/move", status_code=200, summary="Move to a stage (won/lost with a reason)")
    async def move(self, request: Req, deal_id: PathId, data: JSONBody[MoveIn]) -> DealOut:
        return deal_out(await services.move(request.user, deal_id, data.stage, reason=data.reason,
                                            position=data.position, version=data.version))

    @get("/deal-stages")
    async def stages(self) -> list[StageOut]:
        return [to_struct(StageOut, s) for s in await services.stages()]

    @post("/deal-stages", guards=[requires("admin")])
    async def create_stage(self, request: Req, data: JSONBody[StageIn]) -> StageOut:
        return to_struct(StageOut, await services.create_stage(request.user, key=data.key, label=data.label,
                                                               kind=data.kind, position=data.position))
