"""How the web process logs: structlog's console output with the request's context (its `request_id`) merged in,
and exceptions as plain tracebacks. Not structlog's default rich tracebacks: those print every frame's local
variables, which include the request's headers (API keys, session cookies)."""

from __future__ import annotations

import structlog


def configure() -> None:
    structlog.configure(processors=[
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.StackInfoRenderer(),
        structlog.dev.set_exc_info,
        structlog.processors.TimeStamper(fmt="%Y-%m-%d %H:%M:%S", utc=False),
        structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback),
    ])
