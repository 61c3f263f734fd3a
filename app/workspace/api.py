"""Workspace JSON API under /t/{slug}/api/v1/workspace: the list with unread counts, a conversation's thread
(paginated), reply on any reachable channel, internal notes with @mentions, read markers, unknown senders."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery, JSONBody

from app.accounts.guards import signed_in
from app.accounts.services import Principal
from app.contacts import services as contacts
from app.contacts.services import to_struct
from app.conversations.schemas import ConversationOut
from app.lib.errors import Invalid
from app.lib.wire import PathId
from app.workspace import client, services
from app.workspace.schemas import (
    LinkIn,
    ListItemOut,
    MentionOut,
    NoteIn,
    NoteOut,
    ReplyIn,
    ThreadItemOut,
    ThreadOut,
    WorkspaceListOut,
)

Req = Request[Principal, Any, Any]


class WorkspaceApi(Controller):
    path = "/api/v1/workspace"
    tags = ["workspace"]
    guards = [signed_in]

    @get("/conversations", summary="The queue you may see and your conversations, with unread counts")
    async def conversations(self, request: Req) -> WorkspaceListOut:
        data = await services.left_list(request.user)
        return WorkspaceListOut(waiting=[to_struct(ListItemOut, r) for r in data["waiting"]],
                                mine=[to_struct(ListItemOut, r) for r in data["mine"]])

    @get("/conversations/{conversation_id:int}", summary="Open a conversation: its thread across channels, newest "
         "page (pass `before` for earlier ones); marks it read")
    async def thread(self, request: Req, conversation_id: PathId, before: FromQuery[str] = "") -> ThreadOut:
        row = await services.conversation_for(request.user, conversation_id)
        if not before:
            await services.mark_seen(request.user, conversation_id)
        items, earlier = await services.thread(row["contact_id"], before=before or None)
        card = await contacts.get(row["contact_id"]) if row["contact_id"] else None
        return ThreadOut(conversation=to_struct(ConversationOut, row),
                         items=[to_struct(ThreadItemOut, i) for i in items], earlier=earlier,
                         reply_channels=await services.reply_channels(row, card))

    @post("/conversations/{conversation_id:int}/reply", status_code=201,
          summary="Answer the client on the conversation's channel or another one they can be reached on")
    async def reply(self, request: Req, conversation_id: PathId, data: JSONBody[ReplyIn]) -> dict[str, Any]:
        sent = await services.reply(request.user, conversation_id, channel=data.channel, body=data.body,
                                    subject=data.subject)
        return {"id": sent.get("id"), "channel": data.channel or "", "status": sent.get("status", "")}

    @post("/conversations/{conversation_id:int}/notes", status_code=201,
          summary="Internal note on the client's timeline; @mentioned teammates are notified")
    async def note(self, request: Req, conversation_id: PathId, data: JSONBody[NoteIn]) -> NoteOut:
        note = await services.add_note(request.user, conversation_id, data.body)
        return NoteOut(id=note["id"], contact_id=note["contact_id"], body=note["body"], mentioned=note["mentioned"])

    @post("/conversations/{conversation_id:int}/read", status_code=204, summary="Mark a conversation read")
    async def read(self, request: Req, conversation_id: PathId) -> None:
        await services.conversation_for(request.user, conversation_id)
        await services.mark_seen(request.user, conversation_id)

    @post("/conversations/{conversation_id:int}/contact", status_code=200,
          summary="Unknown sender: link the conversation to an existing contact, or create/name one")
    async def contact(self, request: Req, conversation_id: PathId, data: JSONBody[LinkIn]) -> ConversationOut:
        if data.contact_id is not None:
            row = await client.link(request.user, conversation_id, data.contact_id)
        elif data.name.strip():
            row = await client.create(request.user, conversation_id, {
                "name": data.name, "company": data.company, "phone": data.phone, "email": data.email})
        else:
            raise Invalid("Give contact_id to link, or name to create the contact.", field="contact_id")
        return to_struct(ConversationOut, row)

    @get("/mentions", summary="Your unread @mentions, newest first")
    async def mentions(self, request: Req) -> list[MentionOut]:
        return [to_struct(MentionOut, m) for m in await services.mentions(request.user.user_id)]
