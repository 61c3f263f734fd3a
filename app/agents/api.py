"""Agents JSON API under /t/{slug}/api/v1: read and set one's own status, the team's states (supervisors), capacity
per channel (admins)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Controller, Request, get, put
from litestar.params import FromQuery, JSONBody

from app.accounts import services as accounts
from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.agents import services
from app.agents.schemas import CapacityIn, CapacityOut, IntervalOut, StatusIn, StatusOut, TeamMemberOut
from app.lib.wire import PathId

Req = Request[Principal, Any, Any]


def _out(row: dict[str, Any]) -> StatusOut:
    return msgspec.convert(row, StatusOut, from_attributes=False)


class AgentsApi(Controller):
    path = "/api/v1"
    tags = ["agents"]
    guards = [signed_in]

    @get("/me/status", summary="Your agent state: available, busy, wrapup, away (with a reason) or offline")
    async def my_status(self, request: Req) -> StatusOut:
        return _out(await services.status_of(request.user.user_id))

    @put("/me/status", summary="Choose available or away with a reason (busy and wrap-up follow from your work)")
    async def set_my_status(self, request: Req, data: JSONBody[StatusIn]) -> StatusOut:
        return _out(await services.choose(request.user, data.state, data.reason))

    @get("/agents", guards=[requires("supervisor")], summary="Every active teammate's state and free room")
    async def team(self, request: Req) -> list[TeamMemberOut]:
        users = [u for u in await accounts.list_users() if u["status"] == "active"]
        states = await services.statuses([u["id"] for u in users])
        return [msgspec.convert({**states[u["id"]], "name": u["name"], "role": u["role"]}, TeamMemberOut)
                for u in users]

    @get("/agents/{user_id:int}/capacity", guards=[requires("supervisor")],
         summary="Slots per channel of one agent (defaults: call 1, chat 3, sms 3, email 5)")
    async def capacity(self, request: Req, user_id: PathId) -> CapacityOut:
        await accounts.get_user(user_id)
        return msgspec.convert(await services.capacity_of(user_id), CapacityOut)

    @put("/agents/{user_id:int}/capacity", guards=[requires("admin")],
         summary="Set slots per channel and whether a live call blocks chats and SMS")
    async def set_capacity(self, request: Req, user_id: PathId, data: JSONBody[CapacityIn]) -> CapacityOut:
        await accounts.get_user(user_id)
        row = await services.set_capacity(request.user, user_id, {"call": data.call, "sms": data.sms,
                                                                   "email": data.email, "chat": data.chat},
                                          data.call_blocks)
        return msgspec.convert(row, CapacityOut)

    @get("/agents/{user_id:int}/intervals", guards=[requires("supervisor")],
         summary="An agent's states over a period (default the last 24 hours), oldest first, for reports")
    async def intervals(self, request: Req, user_id: PathId, since: FromQuery[dt.datetime | None] = None,
                        until: FromQuery[dt.datetime | None] = None) -> list[IntervalOut]:
        await accounts.get_user(user_id)
        return [msgspec.convert(r, IntervalOut) for r in await services.intervals(user_id, since, until)]
