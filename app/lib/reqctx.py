"""Facts about the current request that services record (client address), set by the tenant middleware; its id,
logged with everything it does and sent back in `X-Request-ID`; and reading a header from a raw ASGI scope, for the
middlewares that run before Litestar parses the request."""

from __future__ import annotations

import contextvars
import re
import uuid
from typing import Any

import structlog

STREAM_RESPONSE = "stream_response"
"""Set `scope["state"][STREAM_RESPONSE]` in a read-only handler to have its 2xx answer streamed as produced instead of
held until the tenant's transaction commits (tenants/routing.py): a CSV export, an errors.csv."""

client_ip: contextvars.ContextVar[str] = contextvars.ContextVar("sb_client_ip", default="")
user_agent: contextvars.ContextVar[str] = contextvars.ContextVar("sb_user_agent", default="")


def scope_header(scope: Any, name: bytes) -> str:
    """The first `name` header (lowercase bytes) of an ASGI scope, or ""."""
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


# -- the request id: one per HTTP request, in the logs of that request and in its response ------------------------

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")


def request_id(scope: Any) -> str:
    """This request's id: the caller's `X-Request-ID` when it is a sane token (8-64 letters, digits, `._:-`), else a
    new one; kept in the scope, so every later reader (logs, error pages, the response header) gets the same."""
    state = scope.setdefault("state", {})
    rid = state.get("request_id")
    if not rid:
        sent = scope_header(scope, REQUEST_ID_HEADER.encode())
        rid = sent if _SANE_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        state["request_id"] = rid
    return str(rid)


class RequestIdMiddleware:
    """Outermost middleware: names the request, binds the id into structlog's context for everything logged while
    the request runs."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with structlog.contextvars.bound_contextvars(request_id=request_id(scope)):
            await self.app(scope, receive, send)


async def stamp_request_id(message: Any, scope: Any) -> None:
    """before_send hook: every HTTP response carries its request's id (also 404s of unknown paths and the answers of
    exception handlers that run outside the middleware)."""
    if message["type"] == "http.response.start" and scope.get("type") == "http":
        headers = message.setdefault("headers", [])
        if not any(key.lower() == REQUEST_ID_HEADER.encode() for key, _ in headers):
            headers.append((REQUEST_ID_HEADER.encode(), request_id(scope).encode()))
