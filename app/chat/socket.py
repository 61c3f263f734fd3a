"""The widget's live feed `/t/{slug}/chat/ws?token=...`: authorised by the chat token alone (no cookies), from an
Origin in the shop's chat settings; it listens to exactly one channel, `tenant:{slug}:chat:{session id}`.

Server -> widget (JSON): `{"type": "sync", "messages": [...], "time_zone": ...}`, the chat's newest messages with
their delivery state (and, in the first frame, the linked contact's time zone, "" for none), reloaded after every
burst of events (a missed event can never leave the widget stale; after the first, full one a frame carries only
what may have changed, merged by id), and
`{"type": "typing"}` while an operator types. Widget -> server: `{"typing": true}`, `{"read": <message id>}`, and
`{"send": <text>, "ref": <anything short>}`: a message, filed by the tenant's group-commit writer (app.chat.writer)
and answered `{"type": "sent", "ref": ..., "message": {...}}` once committed, or `{"type": "error", "ref": ...,
"detail": ..., "status_code": ...}`. Operator messages the socket pushes count as delivered (marked through the
writer's delivery batches, after the frame).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
import structlog
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath

from app.chat import services, writer
from app.chat.schemas import MessageOut
from app.chat.widget import limits
from app.contacts import services as contacts
from app.contacts.services import to_struct
from app.lib import i18n, reqctx
from app.lib.db import TenantRef, tenant_context
from app.lib.errors import DomainError
from app.lib.i18n import N_
from app.security import rejections
from realtime import channels
from realtime.channels import channel_name
from realtime.runtime import ensure_started
from realtime.sockets import finish, json_frames, next_burst

log = structlog.get_logger(__name__)

CLOSE_GONE = 4404
CLOSE_REFUSED = 4403
_encoder = msgspec.json.Encoder()


async def sync(tenant: TenantRef, session_id: int, since: int = 0) -> tuple[bytes, int, int]:
    """The messages from id `since` on (the newest HISTORY when 0) with their state; the widget merges them by id.
    Returns the frame, the next `since` (after the newest message, or at the visitor's oldest message not yet
    read: its state may still change) and the newest operator message the frame delivers (0 for none). Operator
    messages in the frame count as delivered: the caller marks them once the frame is out (`writer.deliver`: group
committed with other chats' marks). A read-only
    transaction: it takes no transaction id, so it never holds back the event log's safe horizon."""
    async with tenant_context(tenant):
        rows, contact_id, language = await services.messages_and_contact(session_id, since=since)
        # The first frame also says the contact's time zone when the chat is linked to a contact who has one (the
        # widget shows times in it; else in the browser's); every frame says the contact's language ("" for none:
        # the widget keeps its own), so a chat linked meanwhile switches the widget to it.
        zone = await contacts.zone_of(contact_id) if since == 0 else ""
    newest_out = max((m["id"] for m in rows if m["direction"] == "out" and m["status"] == "sent"), default=0)
    for m in rows:
        if m["direction"] == "out" and m["status"] == "sent":
            m["status"] = "delivered"
    frame = _encoder.encode({"type": "sync", "session_id": session_id, "full": since == 0, "time_zone": zone,
                             "language": language,
                             "messages": [to_struct(MessageOut, r) for r in rows]})
    newest = max([since - 1, *(m["id"] for m in rows)])
    cursor = min([newest + 1, *(m["id"] for m in rows if m["direction"] == "in" and m["status"] != "read")])
    return frame, cursor, newest_out


SUBPROTOCOL = "sb-chat"
"""The widget opens `new WebSocket(url, ["sb-chat", token])`: the token travels in the handshake's
Sec-WebSocket-Protocol header, never in the URL (which access logs and proxies keep)."""


def _offered(socket: WebSocket[Any, Any, Any]) -> list[str]:
    return [p.strip() for p in (socket.headers.get("sec-websocket-protocol") or "").split(",")]


def _token(socket: WebSocket[Any, Any, Any]) -> str | None:
    offered = _offered(socket)
    if len(offered) == 2 and offered[0] == SUBPROTOCOL and offered[1]:
        return offered[1]
    return None


def _subprotocol(socket: WebSocket[Any, Any, Any]) -> str | None:
    """Chromium fails a handshake that offered subprotocols and got none back, so answer with ours if offered."""
    return SUBPROTOCOL if SUBPROTOCOL in _offered(socket) else None


@websocket("/chat/ws", opt={"csrf_exempt": True}, include_in_schema=False)
async def chat_socket(socket: WebSocket[Any, Any, Any], slug: FromPath[str]) -> None:
    tenant: TenantRef | None = socket.scope.get("state", {}).get("tenant")
    if tenant is None or tenant.slug != slug:
        await _refuse(socket, CLOSE_GONE)
        return
    try:
        await limits()["requests"].check(slug, reqctx.client_ip.get())
        async with tenant_context(tenant):
            origin = socket.headers.get("origin")
            allowed = await services.origin_allowed(origin)
            if not allowed:
                await rejections.record(rejections.FOREIGN_ORIGIN, source=reqctx.client_ip.get(),
                                        path=socket.url.path, detail=f"Origin {(origin or '(none)')[:200]}")
            session = await services.resolve(_token(socket)) if allowed else None
    except DomainError:
        await _refuse(socket, CLOSE_GONE)
        return
    if session is None:
        await _refuse(socket, CLOSE_REFUSED)
        return
    session_id = int(session["id"])
    backend = (await ensure_started()).backend
    topic = channels.chat(session_id)
    name = channel_name(tenant, topic)
    sub = await backend.subscribe([name])  # before the first sync: nothing committed after it can be missed
    await socket.accept(subprotocols=SUBPROTOCOL)

    acked: set[int] = set()  # this socket's own messages: their event needs no resync here (the answer had them)

    async def receive() -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            async for msg in json_frames(socket):
                if "send" in msg:
                    await _send(socket, tenant, session_id, msg, acked)
                    continue
                try:
                    await _handle(tenant, session_id, msg)
                except DomainError:
                    continue  # a rate limit or a stale id: nothing to tell the widget

    receiver = asyncio.create_task(receive())
    try:
        frame, cursor, delivered = await sync(tenant, session_id)
        await socket.send_text(frame.decode())
        writer.deliver(tenant, session_id, delivered)
        while (burst := await next_burst(sub, receiver, tenant=tenant.slug, channel=name, topic=topic)) is not None:
            resync = typing = False
            for event in burst:
                if event.name == "chat.typing":
                    typing = typing or event.data.get("who") == "operator"
                elif event.name == "chat.message" and event.data.get("message_id") in acked:
                    acked.discard(event.data["message_id"])  # the visitor's own, already answered with its row
                elif event.name == "chat.message" or (event.name == "chat.status"
                                                      and event.data.get("direction") == "in"):
                    resync = True
            if resync:
                frame, cursor, delivered = await sync(tenant, session_id, cursor)
                await socket.send_text(frame.decode())
            if typing:  # after the sync: the widget ends "typing" when the operator's message arrives, not before
                await socket.send_text(_encoder.encode({"type": "typing", "who": "operator"}).decode())
            if resync:
                writer.deliver(tenant, session_id, delivered)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        await finish(socket, receiver, sub)


async def _refuse(socket: WebSocket[Any, Any, Any], code: int) -> None:
    """Accept, then close with `code`: a browser sees a refused handshake only as 1006, and the widget needs to
    know "this chat is gone" (4404: forget the token) from "not on this site" (4403)."""
    with contextlib.suppress(Exception):
        await socket.accept(subprotocols=_subprotocol(socket))
        await socket.close(code=code)


NOT_STORED = N_("Your message could not be stored; send it again.")
MAX_ACKED = 200
"""Own message ids a socket remembers until their event comes back (bounded: a lost event costs only a resync)."""


async def _send(socket: WebSocket[Any, Any, Any], tenant: TenantRef, session_id: int, msg: dict[str, Any],
                acked: set[int]) -> None:
    """`{"send": text, "ref": r}`: the message through the tenant's group-commit writer; the widget gets
    `{"type": "sent", "ref": r, "message": {...}}` once it is committed, or `{"type": "error", "ref": r, "detail":
    ...}` (too fast, too long, the chat is gone). One at a time per socket: a chat's messages keep their order."""
    ref = msg.get("ref")
    ref = ref if isinstance(ref, (str, int)) and not isinstance(ref, bool) and len(str(ref)) <= 64 else None
    try:
        await limits()["messages"].check(tenant.slug, str(session_id))
        row = await writer.send(tenant, session_id, msg.get("send"))
    except DomainError as exc:
        answer = {"type": "error", "ref": ref, **exc.to_dict()}
    except Exception:  # stored neither in its batch nor alone: the sender is told, the socket stays open
        log.exception("chat_message_not_stored", tenant=tenant.slug, session_id=session_id)
        answer = {"type": "error", "ref": ref, "detail": i18n.gettext(NOT_STORED), "status_code": 500}
    else:
        if len(acked) >= MAX_ACKED:
            acked.clear()
        acked.add(int(row["id"]))
        answer = {"type": "sent", "ref": ref, "message": to_struct(MessageOut, row)}
    await socket.send_text(_encoder.encode(answer).decode())


async def _handle(tenant: TenantRef, session_id: int, msg: dict[str, Any]) -> None:
    if msg.get("typing") is True:
        async with tenant_context(tenant):
            await services.typing(session_id, "visitor", tenant_slug=tenant.slug)
    upto = msg.get("read")
    if isinstance(upto, int) and not isinstance(upto, bool) and upto > 0:
        await limits()["requests"].check(tenant.slug, reqctx.client_ip.get())
        async with tenant_context(tenant):
            await services.mark(session_id, direction="out", upto=upto, status="read")
