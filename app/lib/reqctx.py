"""Facts about the current request that services record (client address), set by the tenant middleware; and
reading a header from a raw ASGI scope, for the middlewares that run before Litestar parses the request."""

from __future__ import annotations

import contextvars
from typing import Any

client_ip: contextvars.ContextVar[str] = contextvars.ContextVar("sb_client_ip", default="")
user_agent: contextvars.ContextVar[str] = contextvars.ContextVar("sb_user_agent", default="")


def scope_header(scope: Any, name: bytes) -> str:
    """The first `name` header (lowercase bytes) of an ASGI scope, or ""."""
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""
