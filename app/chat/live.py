"""Live web chat in the console, on the console of the operator handling the chat: a new message is appended to the
chat pane alone (an out-of-band `beforeend` of one message), a typing visitor or a delivery change swaps only that
element; the pane is rendered whole only with the console's panels. The console panels get each chat's messages."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal
from app.chat import services
from app.conversations.live import handler_of
from app.lib.db import TenantRef, current_uow
from app.lib.templates import render_text
from realtime import renders
from realtime.events import Event
from realtime.render import CONCERNED, shared

TYPING_SHOWN = 5.0
"""Seconds a "visitor is typing" stays up after the last typing event."""

_MESSAGE = """
SELECT id, direction, body, author_label, status, created_at FROM chat_message WHERE id = $1 AND conversation = $2
"""
_STATUSES = """
SELECT id, status FROM chat_message WHERE chat_session = $1 AND direction = 'out' AND id <= $2
ORDER BY id DESC LIMIT $3
"""


async def _handler(conversation_id: int) -> int | None:
    """Who handles the open conversation: the same read (and memo key) as the audience's `handler_of`, so the
    renderer's check costs no query."""
    return await shared(("handler", conversation_id), lambda: current_uow().connection.fetchval(
        "SELECT assigned_to FROM conversation WHERE id = $1 AND status <> 'closed'", conversation_id))


@renders("chat.message", "chat.typing", "chat.status", audience=CONCERNED.but(users=handler_of))
async def chat_pane(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    conversation_id = int(event.data.get("conversation_id") or 0)
    if not conversation_id:
        return None
    if event.name == "chat.typing" and event.data.get("who") != "visitor":
        return None
    if event.name == "chat.status" and event.data.get("direction") != "out":
        return None  # the operator's own "seen": nothing changes on their screen
    if await _handler(conversation_id) != user.user_id:
        return None  # only the operator handling the chat has its pane open
    c = {"id": conversation_id}
    conn = current_uow().connection
    if event.name == "chat.typing":
        return render_text("_partials/console_chat_typing.html", {
            "c": c, "oob_typing": True, "typing_until": event.at.timestamp() + TYPING_SHOWN})
    if event.name == "chat.status":  # the operator's messages the visitor has now received or read
        rows = await conn.fetch(_STATUSES, int(event.data["session_id"]), int(event.data["upto"]),
                                services.CONSOLE_HISTORY)
        return "".join(render_text("_partials/console_chat_status.html", {"m": dict(r), "oob_status": True})
                       for r in rows)
    row = await conn.fetchrow(_MESSAGE, int(event.data["message_id"]), conversation_id)
    if row is None:
        return None
    m = dict(row)
    message = render_text("_partials/console_chat_message.html", {
        "m": m, "c": c, "tenant": tenant, "seen_upto": m["id"] if m["direction"] == "in" and m["status"] == "sent"
        else None})
    html = f'<div id="chat-msgs-{conversation_id}" hx-swap-oob="beforeend">{message}</div>'
    if m["direction"] == "in":  # the visitor's message ends their "typing" at once
        html += render_text("_partials/console_chat_typing.html", {"c": c, "oob_typing": True, "typing_until": 0})
    return html


async def console_extras(ctx: dict[str, Any]) -> dict[str, Any]:
    ids = [c["id"] for c in ctx["mine"] if services.session_id_of(c)]
    return {"chats": await services.console_view(ids)}
