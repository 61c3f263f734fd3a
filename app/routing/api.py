"""Routing in the JSON API under /t/{slug}/api/v1: queue routing settings, agents' skills, offers (accept, reject)
and why an agent was chosen."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts.services import to_struct
from app.conversations.schemas import ConversationOut
from app.lib.wire import PathId
from app.routing import services
from app.routing.schemas import DecisionOut, OfferOut, PriorityIn, QueueRoutingIn, QueueRoutingOut, SkillsIn, SkillsOut

Req = Request[Principal, Any, Any]


class RoutingApi(Controller):
    path = "/api/v1"
    tags = ["routing"]
    guards = [signed_in]

    @get("/routing/queues", guards=[requires("admin")], summary="Routing settings of every queue")
    async def queues(self) -> list[QueueRoutingOut]:
        return [to_struct(QueueRoutingOut, r) for r in await services.all_settings()]

    @get("/routing/queues/{key:str}", guards=[requires("admin")], summary="A queue's routing settings")
    async def queue(self, key: FromPath[str]) -> QueueRoutingOut:
        return to_struct(QueueRoutingOut, await services.queue_settings(key))

    @put("/routing/queues/{key:str}", guards=[requires("admin")],
         summary="Set a queue's strategy, required skills, sticky window, offer timeout, misses before away, overflow")
    async def set_queue(self, request: Req, key: FromPath[str], data: JSONBody[QueueRoutingIn]) -> QueueRoutingOut:
        row = await services.update_settings(request.user, key, strategy=data.strategy, skills=data.skills,
                                             sticky_minutes=data.sticky_minutes, offer_timeout=data.offer_timeout,
                                             misses_before_away=data.misses_before_away,
                                             overflow_queue=data.overflow_queue, overflow_after=data.overflow_after)
        return to_struct(QueueRoutingOut, row)

    @get("/users/{user_id:int}/skills", guards=[requires("supervisor")], summary="A colleague's skills and levels")
    async def skills(self, user_id: PathId) -> SkillsOut:
        return SkillsOut(user_id, await services.skills_of(user_id))

    @put("/users/{user_id:int}/skills", guards=[requires("admin")],
         summary="Replace a colleague's skills (name -> level 1 to 10)")
    async def set_skills(self, request: Req, user_id: PathId, data: JSONBody[SkillsIn]) -> SkillsOut:
        return SkillsOut(user_id, await services.set_skills(request.user, user_id, data.skills))

    @post("/conversations/{conversation_id:int}/priority", status_code=200, guards=[requires("supervisor")],
          summary="Set a waiting item's priority (-10 to 10)")
    async def priority(self, request: Req, conversation_id: PathId, data: JSONBody[PriorityIn]) -> ConversationOut:
        return to_struct(ConversationOut, await services.set_priority(request.user, conversation_id, data.priority))

    @get("/offers", summary="Your pending offers (`?everyone=true`: the team's, for supervisors)")
    async def offers(self, request: Req, everyone: FromQuery[bool] = False) -> list[OfferOut]:
        return [to_struct(OfferOut, r) for r in await services.pending_offers(request.user, everyone=everyone)]

    @get("/offers/{offer_id:int}", summary="One offer (yours, or any for a supervisor)")
    async def offer(self, request: Req, offer_id: PathId) -> OfferOut:
        return to_struct(OfferOut, await services.offer(request.user, offer_id))

    @post("/offers/{offer_id:int}/accept", status_code=200,
          summary="Accept an offer: the item becomes yours; 409 when it closed or you have no room")
    async def accept(self, request: Req, offer_id: PathId) -> OfferOut:
        return to_struct(OfferOut, await services.accept(request.user, offer_id))

    @post("/offers/{offer_id:int}/reject", status_code=200, summary="Reject an offer: it goes to the next agent")
    async def reject(self, request: Req, offer_id: PathId) -> OfferOut:
        return to_struct(OfferOut, await services.reject(request.user, offer_id))

    @get("/conversations/{conversation_id:int}/routing", guards=[requires("supervisor")],
         summary="Why this agent: the item's routing decisions, newest first, with candidates and the reason")
    async def decisions(self, request: Req, conversation_id: PathId) -> list[DecisionOut]:
        return [to_struct(DecisionOut, r) for r in await services.decisions(request.user, conversation_id)]
