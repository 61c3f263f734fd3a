"""Live web chat in the console: chat events become an out-of-band swap of the chat pane's message list on the
console of the operator handling the chat; the console panels get each chat's messages."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal
from app.chat import services
from app.conversations.live import handler_of
from app.lib.db import TenantRef, current_uow
from app.lib.templates import render_text
from realtime import renders
from realtime.events import Event
from realtime.render import CONCERNED

TYPING_SHOWN = 5.0
"""Seconds a "visitor is typing" stays up after the last typing event."""


@renders("chat.message", "chat.typing", "chat.status", audience=CONCERNED.but(users=handler_of))
async def chat_pane(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    conversation_id = int(event.data.get("conversation_id") or 0)
    if not conversation_id:
        return None
    if event.name == "chat.typing" and event.data.get("who") != "visitor":
        return None
    if event.name == "chat.status" and event.data.get("direction") != "out":
        return None  # the operator's own "seen": nothing changes on their screen
    conv = await current_uow().connection.fetchrow(
        "SELECT id, status, assigned_to AS assigned_to_id FROM conversation WHERE id = $1", conversation_id)
    if conv is None or conv["assigned_to_id"] != user.user_id or conv["status"] == "closed":
        return None  # only the operator handling the chat has its pane open
    chat = (await services.console_view([conversation_id])).get(conversation_id)
    if chat is None:
        return None
    # The console keeps a "typing" across re-renders of the pane (chat-console.js) until it expires; a message
    # from the visitor ends it at once (0).
    typing_until: float | None = None
    if event.name == "chat.typing":
        typing_until = event.at.timestamp() + TYPING_SHOWN
    elif event.name == "chat.message" and event.data.get("direction") == "in":
        typing_until = 0
    return render_text("_partials/console_chat_log.html", {"c": dict(conv), "chat": chat, "tenant": tenant, "oob": True,
                                                            "typing_until": typing_until})


async def console_extras(ctx: dict[str, Any]) -> dict[str, Any]:
    ids = [c["id"] for c in ctx["mine"] if services.session_id_of(c)]
    return {"chats": await services.console_view(ids)}

