"""SLA JSON API under /t/{slug}/api/v1: policies (admins edit, everyone reads), a conversation's clocks, and the
running clocks due soonest first."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post, put
from litestar.params import JSONBody

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts.services import to_struct
from app.conversations import actions
from app.conversations import services as conversations
from app.lib.wire import PathId, QueryInt
from app.sla import clocks, policies
from app.sla.schemas import ClockOut, PolicyIn, PolicyOut

Req = Request[Principal, Any, Any]


class SlaApi(Controller):
    path = "/api/v1"
    tags = ["sla"]
    guards = [signed_in]

    @get("/sla/policies", summary="SLA policies (most specific first within each queue)")
    async def list_policies(self) -> list[PolicyOut]:
        return [to_struct(PolicyOut, p) for p in await policies.list_policies()]

    @post("/sla/policies", guards=[requires("admin")], summary="Add an SLA policy")
    async def create_policy(self, request: Req, data: JSONBody[PolicyIn]) -> PolicyOut:
        return to_struct(PolicyOut, await policies.create(request.user, data))

    @get("/sla/policies/{policy_id:int}")
    async def read_policy(self, policy_id: PathId) -> PolicyOut:
        return to_struct(PolicyOut, await policies.get(policy_id))

    @put("/sla/policies/{policy_id:int}", guards=[requires("admin")],
         summary="Change an SLA policy (running clocks keep their terms)")
    async def update_policy(self, request: Req, policy_id: PathId, data: JSONBody[PolicyIn]) -> PolicyOut:
        return to_struct(PolicyOut, await policies.update(request.user, policy_id, data))

    @delete("/sla/policies/{policy_id:int}", guards=[requires("admin")],
            summary="Remove an SLA policy (running clocks keep their terms)")
    async def delete_policy(self, request: Req, policy_id: PathId) -> None:
        await policies.delete(request.user, policy_id)

    @get("/conversations/{conversation_id:int}/sla", summary="A conversation's SLA clocks")
    async def conversation_clocks(self, request: Req, conversation_id: PathId) -> list[ClockOut]:
        await actions.visible(request.user, conversation_id)
        return [to_struct(ClockOut, c) for c in await clocks.of_conversation(conversation_id)]

    @get("/sla/clocks", summary="Running SLA clocks of the queues you see, due soonest first")
    async def running_clocks(self, request: Req, limit: QueryInt = 100) -> list[ClockOut]:
        return [to_struct(ClockOut, c) for c in await clocks.running_visible(
            await conversations.visible_queue_ids(request.user), max(1, min(limit, 500)))]
