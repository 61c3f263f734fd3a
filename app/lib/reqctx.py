"""Facts about the current request that services record (client address), set by the tenant middleware."""

from __future__ import annotations

import contextvars

client_ip: contextvars.ContextVar[str] = contextvars.ContextVar("sb_client_ip", default="")
user_agent: contextvars.ContextVar[str] = contextvars.ContextVar("sb_user_agent", default="")
