"""The console websocket `/t/{slug}/ws`: handshake checks, then the hub serves the socket until it ends.

Client messages are JSON objects (the htmx ws extension sends form fields this way):
`{"last_id": "<tx>.<id>"}` (the last position the page received) as the first message when the URL carried
none, `{"watch": "contact:12"}` / `{"unwatch": "contact:12"}` for an open card, and the keys domains declare in their
manifest's `socket_messages` (`{"typing": 42}` from the workspace's reply box, `{"presence": "away:lunch"}` from
the console's status picker, answered by the agents domain).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath

from app.lib.db import TenantRef
from app.settings import get_settings
from realtime.channels import may_watch
from realtime.events import Position
from realtime.hub import UNREPLAYABLE, Connection, CredentialCheck
from realtime.log import position_of
from realtime.runtime import runtime
from realtime.sockets import direct_send, json_frames, stop_reader
from realtime.viewer import Viewer

log = structlog.get_logger(__name__)

MessageHandler = Callable[[TenantRef, Viewer, Any], Awaitable[None]]
_MESSAGES: dict[str, MessageHandler] = {}
"""More client message keys, each with its handler (a domain's manifest declares them; app.domains registers)."""


def register_message(key: str, fn: MessageHandler) -> None:
    """Handle `{key: value}` frames from console sockets with `fn(tenant, user, value)` (idempotent)."""
    if key in ("last_id", "watch", "unwatch") or _MESSAGES.get(key, fn) is not fn:
        raise ValueError(f"socket message {key!r} is handled already")
    _MESSAGES[key] = fn


HELLO_WAIT = 1.0
"""Seconds to wait for a first `{"last_id": "<tx>.<id>"}` message when the URL did not carry `last_id`."""
CLOSE_REFUSED = 4403


def _last_id(raw: str | None) -> Position | None:
    """The socket's cursor: None (no cursor, start now) for an empty one; a string that is not a position (an old
    page's integer id, garbage) cannot be replayed after, so the console is told to refresh."""
    if raw is None or raw == "":
        return None
    return position_of(raw) or UNREPLAYABLE


@websocket("/ws", opt={"csrf_exempt": True}, include_in_schema=False)
async def console_socket(socket: WebSocket[Any, Any, Any], slug: FromPath[str]) -> None:
    """Refused before accepting (HTTP 403 at the handshake) without a live session or from a foreign Origin:
    the session cookie alone must not let another site open a socket (cross-site websocket hijacking)."""
    state = socket.scope.get("state", {})
    tenant: TenantRef | None = state.get("tenant")
    user = socket.scope.get("user")
    origin = socket.headers.get("origin")
    if (tenant is None or tenant.slug != slug or not isinstance(user, Viewer) or user.via != "session"
            or origin not in get_settings().app.allowed_origins):
        await socket.close(code=CLOSE_REFUSED)
        return
    await socket.accept()
    # `?last_id=<tx>.<id>` replays after that position; `?last_id=` (empty) means "no cursor, start now"; no
    # parameter at all waits briefly for a first message carrying it.
    # `?presence=0`: a page's passive socket (toasts on a page without a console) does not make the user online.
    raw = socket.query_params.get("last_id")
    await _serve(socket, tenant, user, _last_id(raw), wait_hello=raw is None,
                 counts_presence=socket.query_params.get("presence") != "0")


async def serve_narrow(socket: WebSocket[Any, Any, Any], tenant: TenantRef, viewer: Viewer, *, topics: set[str],
                       still_valid: CredentialCheck | None = None) -> None:
    """Serve an accepted socket that hears only `topics` and answers no client message but its cursor (a
    wallboard): the hub's feed, replay and re-checks, without the console's watches, presence or extra keys.
    `still_valid` re-checks a credential that is not a user session (see realtime.hub.Connection)."""
    raw = socket.query_params.get("last_id")
    await _serve(socket, tenant, viewer, _last_id(raw), wait_hello=raw is None, counts_presence=False,
                 topics=topics, still_valid=still_valid)


async def _serve(socket: WebSocket[Any, Any, Any], tenant: TenantRef, user: Viewer, last_id: Position | None,
                 *, wait_hello: bool, counts_presence: bool = True, topics: set[str] | None = None,
                 still_valid: CredentialCheck | None = None) -> None:
    hub = runtime().hub
    conn = Connection(tenant, user, direct_send(socket), counts_presence=counts_presence, topics=topics,
                      still_valid=still_valid)
    narrow = topics is not None
    feed = await hub.attach(conn)
    hello: asyncio.Future[Position | None] = asyncio.get_running_loop().create_future()
    if not wait_hello:
        hello.set_result(last_id)

    async def receive() -> None:
        try:
            async for msg in json_frames(socket):
                if not hello.done():
                    raw = msg.get("last_id")
                    hello.set_result(None if raw is None else _last_id(str(raw)))
                await _handle(msg)
        except WebSocketDisconnect:
            pass
        finally:
            if not hello.done():
                hello.set_result(None)
            conn.kick(0)

    async def _handle(msg: dict[str, Any]) -> None:
        if narrow:
            return
        topic = msg.get("watch")
        if isinstance(topic, str) and may_watch(user, topic):
            await feed.add_topics(conn, {topic})
        topic = msg.get("unwatch")
        if isinstance(topic, str) and topic.split(":", 1)[0] in ("contact", "order"):
            await feed.remove_topics(conn, {topic})
        for key, handler in _MESSAGES.items():
            if key in msg:
                try:
                    await handler(tenant, user, msg[key])
                except Exception:  # a broken handler must not end the socket
                    log.exception("socket_message_failed", key=key)

    receiver = asyncio.create_task(receive())
    code: int | None = 0
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(hello), HELLO_WAIT)
        if conn.close_code is None:
            await conn.start_from(hello.result() if hello.done() else None)
            code = await conn.pump()
        else:
            code = conn.close_code
    except (WebSocketDisconnect, RuntimeError, OSError):
        code = 0  # the client went away mid-send
    finally:
        await stop_reader(receiver)
        await hub.detach(conn)
    if code:
        with contextlib.suppress(Exception):
            await socket.close(code=code)
