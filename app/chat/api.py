"""The operator's side of web chat under /t/{slug}/api/v1: read a chat, reply, typing, seen; the chat settings."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, JSONBody

from app import channels
from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.chat import services
from app.chat.schemas import ChatOut, ChatSettingsIn, ChatSettingsOut, MarkIn, MessageIn, MessageOut
from app.contacts.services import to_struct
from app.conversations import services as conversations
from app.lib.db import current_tenant
from app.lib.errors import NotFound
from app.lib.wire import PathId
from app.settings import get_settings

Req = Request[Principal, Any, Any]


def snippet(slug: str) -> str:
    return f'<script src="{get_settings().app.base_url}/t/{slug}/widget.js" async></script>'


async def settings_out() -> ChatSettingsOut:
    row = await services.get_settings()
    return ChatSettingsOut(allowed_origins=row["allowed_origins"], greeting=row["greeting"],
                           snippet=snippet(current_tenant().slug))


async def chat_of(user: Principal, conversation_id: int) -> ChatOut:
    conv, session_id = await services.conversation_session(conversation_id)
    if conv["queue_id"] not in await conversations.visible_queue_ids(user):
        raise NotFound("No conversation %(conversation_id)s.", conversation_id=conversation_id)
    s = await services.get_session(session_id)
    return ChatOut(conversation_id=conversation_id, session_id=session_id, visitor_name=s["visitor_name"],
                   visitor_email=s["visitor_email"], visitor_phone=s["visitor_phone"], contact_id=s["contact_id"],
                   origin=s["origin"], messages=[to_struct(MessageOut, m) for m in await services.messages(session_id)])


class ChatApi(Controller):
    path = "/api/v1"
    tags = ["web chat"]
    guards = [signed_in]

    @get("/conversations/{conversation_id:int}/chat", summary="A web chat's visitor and messages, oldest first")
    async def read(self, request: Req, conversation_id: PathId) -> ChatOut:
        return await chat_of(request.user, conversation_id)

    @post("/conversations/{conversation_id:int}/chat", summary="Reply in a web chat you handle; live in the widget")
    async def reply(self, request: Req, conversation_id: PathId, data: JSONBody[MessageIn]) -> MessageOut:
        return to_struct(MessageOut, await channels.get("chat").send(request.user, conversation_id, data.body))

    @post("/conversations/{conversation_id:int}/chat/typing", status_code=204,
          summary="You are typing: the visitor sees it for a few seconds")
    async def typing(self, request: Req, slug: FromPath[str], conversation_id: PathId) -> None:
        await services.operator_typing(request.user, conversation_id, tenant_slug=slug)

    @post("/conversations/{conversation_id:int}/chat/seen", status_code=204,
          summary="You have seen the visitor's messages up to `upto` (the visitor sees them as delivered)")
    async def seen(self, request: Req, conversation_id: PathId, data: JSONBody[MarkIn]) -> None:
        await services.operator_seen(request.user, conversation_id, data.upto)

    @get("/chat/settings", guards=[requires("admin")], summary="Web chat settings and the snippet for the shop's site")
    async def get_settings(self) -> ChatSettingsOut:
        return await settings_out()

    @put("/chat/settings", guards=[requires("admin")], summary="Set the origins where the widget may run")
    async def put_settings(self, request: Req, data: JSONBody[ChatSettingsIn]) -> ChatSettingsOut:
        await services.update_settings(request.user, allowed_origins=data.allowed_origins, greeting=data.greeting)
        return await settings_out()
