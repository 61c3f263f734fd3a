"""Queue JSON API under /t/{slug}/api/v1: open, list, take, transfer, wrap up; queues; statistics."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, JSONBody

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts.services import to_struct
from app.conversations import services
from app.conversations.schemas import (
    ConversationIn,
    ConversationOut,
    QueueIn,
    QueueOut,
    QueuePatch,
    QueueStat,
    StatsOut,
    TransferIn,
    WrapUpIn,
)
from app.lib.errors import NotFound
from app.lib.wire import PathId

Req = Request[Principal, Any, Any]


class ConversationsApi(Controller):
    path = "/api/v1"
    tags = ["queue"]
    guards = [signed_in]

    @post("/conversations", summary="Put a customer interaction in a queue")
    async def open(self, request: Req, data: JSONBody[ConversationIn]) -> ConversationOut:
        row = await services.open_conversation(channel=data.channel, queue_key=data.queue, contact_id=data.contact_id,
                                               subject=data.subject, from_address=data.from_address,
                                               actor=request.user)
        return to_struct(ConversationOut, row)

    @get("/conversations/waiting", summary="The live queue: everything waiting that you may see, oldest first")
    async def waiting(self, request: Req) -> list[ConversationOut]:
        return [to_struct(ConversationOut, r) for r in await services.waiting(request.user)]

    @get("/conversations/mine", summary="Your active conversations")
    async def mine(self, request: Req) -> list[ConversationOut]:
        return [to_struct(ConversationOut, r) for r in await services.mine(request.user)]

    @get("/conversations/{conversation_id:int}")
    async def read(self, request: Req, conversation_id: PathId) -> ConversationOut:
        row = await services.get(conversation_id)
        if row["queue_id"] not in await services.visible_queue_ids(request.user):
            raise NotFound("No conversation %(conversation_id)s.", conversation_id=conversation_id)
        return to_struct(ConversationOut, row)

    @post("/conversations/{conversation_id:int}/take", status_code=200,
          summary="Take a waiting conversation; 409 if someone else was faster")
    async def take(self, request: Req, conversation_id: PathId) -> ConversationOut:
        return to_struct(ConversationOut, await services.take(request.user, conversation_id))

    @post("/conversations/{conversation_id:int}/transfer", status_code=200)
    async def transfer(self, request: Req, conversation_id: PathId,
                       data: JSONBody[TransferIn]) -> ConversationOut:
        row = await services.transfer(request.user, conversation_id, queue_key=data.queue, user_id=data.user_id)
        return to_struct(ConversationOut, row)

    @post("/conversations/{conversation_id:int}/wrapup", status_code=200, summary="Close with a disposition and note")
    async def wrap_up(self, request: Req, conversation_id: PathId, data: JSONBody[WrapUpIn]) -> ConversationOut:
        return to_struct(ConversationOut, await services.wrap_up(request.user, conversation_id, code=data.code,
                                                                 note=data.note))

    @get("/queues")
    async def queues(self, request: Req) -> list[QueueOut]:
        return [to_struct(QueueOut, q) for q in await services.queues() if services.visible(q, request.user)]

    @post("/queues", guards=[requires("admin")])
    async def create_queue(self, request: Req, data: JSONBody[QueueIn]) -> QueueOut:
        return to_struct(QueueOut, await services.create_queue(request.user, data.key, data.name, data.roles))

    @patch("/queues/{key:str}", guards=[requires("admin")],
           summary="Rename, restrict to roles, reorder or archive a queue")
    async def update_queue(self, request: Req, key: FromPath[str], data: JSONBody[QueuePatch]) -> QueueOut:
        return to_struct(QueueOut, await services.update_queue(request.user, key, name=data.name, roles=data.roles,
                                                               position=data.position, archived=data.archived,
                                                               wrapup_seconds=data.wrapup_seconds,
                                                               wrapup_required=data.wrapup_required))

    @get("/queue-stats", summary="Waiting per queue, longest wait, handled today")
    async def stats(self, request: Req) -> StatsOut:
        data = await services.stats(request.user)
        return StatsOut(queues=[to_struct(QueueStat, q) for q in data["queues"]], waiting=data["waiting"],
                        longest_wait_seconds=data["longest_wait_seconds"], handled_today=data["handled_today"])
