"""Conversation actions in the JSON API under /t/{slug}/api/v1: assign or move, snooze, close, reopen, merge; the
blocked addresses (spam) list."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.params import JSONBody

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts.services import to_struct
from app.conversations import actions
from app.conversations.schemas import AssignIn, BlockedOut, BlockIn, CloseIn, ConversationOut, MergeIn, SnoozeIn
from app.lib.errors import Invalid
from app.lib.wire import PathId

Req = Request[Principal, Any, Any]


class ConversationActionsApi(Controller):
    path = "/api/v1"
    tags = ["conversation actions"]
    guards = [signed_in]

    @post("/conversations/{conversation_id:int}/assign", status_code=200,
          summary="Assign to a colleague who sees the queue (`user_id`) or move to another queue (`queue`)")
    async def assign(self, request: Req, conversation_id: PathId, data: JSONBody[AssignIn]) -> ConversationOut:
        if (data.user_id is None) == (data.queue is None):
            raise Invalid("Give either user_id (a colleague) or queue (a queue key).", field="user_id")
        if data.user_id is not None:
            row = await actions.assign(request.user, conversation_id, data.user_id)
        else:
            row = await actions.move(request.user, conversation_id, data.queue or "")
        return to_struct(ConversationOut, row)

    @post("/conversations/{conversation_id:int}/snooze", status_code=200,
          summary="Snooze until a time (ISO 8601 with offset); it comes back then, or when the customer writes")
    async def snooze(self, request: Req, conversation_id: PathId, data: JSONBody[SnoozeIn]) -> ConversationOut:
        return to_struct(ConversationOut, await actions.snooze(request.user, conversation_id, data.until))

    @get("/conversations/snoozed", summary="Snoozed conversations you may see, soonest back first")
    async def snoozed(self, request: Req) -> list[ConversationOut]:
        return [to_struct(ConversationOut, r) for r in await actions.snoozed(request.user)]

    @post("/conversations/{conversation_id:int}/close", status_code=200, summary="Close without a disposition")
    async def close(self, request: Req, conversation_id: PathId, data: JSONBody[CloseIn]) -> ConversationOut:
        return to_struct(ConversationOut, await actions.close(request.user, conversation_id, note=data.note))

    @post("/conversations/{conversation_id:int}/reopen", status_code=200,
          summary="Reopen a closed conversation: back to its operator, or waiting in its queue")
    async def reopen(self, request: Req, conversation_id: PathId) -> ConversationOut:
        return to_struct(ConversationOut, await actions.reopen(request.user, conversation_id))

    @post("/conversations/{conversation_id:int}/merge", status_code=200,
          summary="Merge another conversation of the same client into this one; 409 for another client's")
    async def merge(self, request: Req, conversation_id: PathId, data: JSONBody[MergeIn]) -> ConversationOut:
        return to_struct(ConversationOut, await actions.merge(request.user, conversation_id, data.other_id))

    @post("/blocked-addresses", status_code=201,
          summary="Block a phone number or e-mail address as spam (or a conversation's sender, closing it)")
    async def block(self, request: Req, data: JSONBody[BlockIn]) -> BlockedOut:
        row = await actions.block(request.user, address=data.address, conversation_id=data.conversation_id,
                                  reason=data.reason)
        return to_struct(BlockedOut, {**row, "blocked_by_id": row.get("blocked_by"), "blocked_by_name": None})

    @get("/blocked-addresses", guards=[requires("admin")], summary="Blocked addresses, newest first")
    async def blocked(self) -> list[BlockedOut]:
        return [to_struct(BlockedOut, r) for r in await actions.blocked_list()]

    @delete("/blocked-addresses/{blocked_id:int}", guards=[requires("admin")], summary="Unblock an address")
    async def unblock(self, request: Req, blocked_id: PathId) -> None:
        await actions.unblock(request.user, blocked_id)
