"""Live web chat in the console, on the console of the operator handling the chat: a new message is appended to the
chat pane alone (an out-of-band `beforeend` of one message), a typing visitor or a delivery change swaps only that
element; the pane is rendered whole only with the console's panels. The console panels get each chat's messages."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal
from app.chat import services
from app.lib.db import TenantRef, current_uow
from app.lib.templates import render_text
from realtime import renders
from realtime.events import Event
from realtime.render import CONCERNED, Memo, batch, remember, shared

TYPING_SHOWN = 5.0
"""Seconds a "visitor is typing" stays up after the last typing event."""

_HANDLERS_AND_STATUSES = """
SELECT x.n, c.assigned_to, m.id, m.status
FROM unnest($1::int[], $2::int[], $3::bigint[], $4::bigint[])
     WITH ORDINALITY AS x(conversation, session, since, upto, n)
JOIN conversation c ON c.id = x.conversation AND c.status <> 'closed'
LEFT JOIN LATERAL (
    SELECT id, status FROM chat_message
    WHERE chat_session = x.session AND direction = 'out' AND id <= x.upto AND id >= x.since
    ORDER BY id DESC LIMIT $5) m ON true
"""
_HANDLER = "SELECT assigned_to FROM conversation WHERE id = $1 AND status <> 'closed'"
_HANDLERS_AND_MESSAGES = """
SELECT x.n, c.assigned_to, m.id, m.direction, m.body, m.author_label, m.status, m.created_at
FROM unnest($1::int[], $2::bigint[]) WITH ORDINALITY AS x(conversation, message, n)
JOIN conversation c ON c.id = x.conversation AND c.status <> 'closed'
LEFT JOIN chat_message m ON m.id = x.message AND m.conversation = c.id
"""


async def _load(event: Event) -> dict[str, Any] | None:
    """Who handles the event's open chat and, for a message, the message (for the visitor's delivered/read, the
    operator's messages it changed): ONE read per event, shared by the audience and the render, and one for all the
    batch's messages, one for all its marks (the feed renders many events per unit of work, and the writer commits
    many chats' messages and delivery marks together: every statement counts)."""
    conversation_id = int(event.data.get("conversation_id") or 0)
    if not conversation_id:
        return None

    async def load() -> dict[str, Any] | None:
        conn = current_uow().connection
        if event.name == "chat.message":  # with the batch's other chat messages: one read for them all
            events = [e for e in batch() if e.name == "chat.message" and e.data.get("conversation_id")]
            if not any(e is event for e in events):  # rendered alone, or outside a feed's batch
                events.append(event)
            rows = {r["n"]: r for r in await conn.fetch(
                _HANDLERS_AND_MESSAGES, [int(e.data["conversation_id"]) for e in events],
                [int(e.data.get("message_id") or 0) for e in events])}
            found = None
            for n, e in enumerate(events, 1):
                row = rows.get(n)
                value = {k: v for k, v in row.items() if k != "n"} if row is not None else None
                if e is event:
                    found = value
                else:
                    remember(("chat_pane", e.position), value)
            return found
        elif _status_out(event):  # with the batch's other delivered/read marks (a group commit's): one read
            events = [e for e in batch() if _status_out(e)]
            if not any(e is event for e in events):
                events.append(event)
            found = None
            by_event: dict[int, dict[str, Any]] = {}
            for r in await conn.fetch(
                    _HANDLERS_AND_STATUSES, [int(e.data["conversation_id"]) for e in events],
                    [int(e.data["session_id"]) for e in events], [int(e.data.get("since") or 0) for e in events],
                    [int(e.data["upto"]) for e in events], services.CONSOLE_HISTORY):
                value = by_event.setdefault(r["n"], {"assigned_to": r["assigned_to"], "statuses": []})
                if r["id"] is not None:
                    value["statuses"].append({"id": r["id"], "status": r["status"]})
            for n, e in enumerate(events, 1):
                if e is event:
                    found = by_event.get(n)
                else:
                    remember(("chat_pane", e.position), by_event.get(n))
            return found
        else:
            row = await conn.fetchrow(_HANDLER, conversation_id)
        return dict(row) if row is not None else None

    # Keyed by the event, not the chat: a batch may hold several events of one chat (a message, the reply, the
    # visitor's delivered), each with its own rows.
    return await shared(("chat_pane", event.position), load)  # type: ignore[no-any-return]


def _status_out(event: Event) -> bool:
    """A delivered/read mark of the operator's messages (the operator's pane shows it), of an open conversation."""
    return event.name == "chat.status" and event.data.get("direction") == "out" \
        and bool(event.data.get("conversation_id"))


def _drawn(event: Event) -> bool:
    """Whether the pane shows anything for the event: not for the operator's own typing, nor for their own "seen"
    (a visitor message marked delivered: the console posts it for every message it shows)."""
    if event.name == "chat.typing":
        return event.data.get("who") == "visitor"
    if event.name == "chat.status":
        return event.data.get("direction") == "out"
    return True


async def handler(event: Event, memo: Memo) -> list[int]:
    """`Audience.users` of the chat pane: the operator handling the chat while it is open (conversations.live's
    `handler_of`, read together with the message); nobody, without a read, for an event the pane does not draw."""
    if not _drawn(event):
        return []
    row = await _load(event)
    return [row["assigned_to"]] if row and row["assigned_to"] else []


@renders("chat.message", "chat.typing", "chat.status", audience=CONCERNED.but(users=handler))
async def chat_pane(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    conversation_id = int(event.data.get("conversation_id") or 0)
    if not conversation_id:
        return None
    if not _drawn(event):
        return None  # the operator's own typing or "seen": nothing changes on their screen
    loaded = await _load(event)
    if loaded is None or loaded["assigned_to"] != user.user_id:
        return None  # only the operator handling the chat has its pane open
    c = {"id": conversation_id}
    if event.name == "chat.typing":
        return render_text("_partials/console_chat_typing.html", {
            "c": c, "oob_typing": True, "typing_until": event.at.timestamp() + TYPING_SHOWN})
    if event.name == "chat.status":  # the operator's messages the visitor has now received or read
        return "".join(render_text("_partials/console_chat_status.html", {"m": m, "oob_status": True})
                       for m in loaded["statuses"])
    if loaded["id"] is None:
        return None  # gone meanwhile
    m = {k: v for k, v in loaded.items() if k != "assigned_to"}
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
