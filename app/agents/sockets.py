"""The console socket's `{"presence": "available"}` / `{"presence": "away:lunch"}` frames: the status picker."""

from __future__ import annotations

from typing import Any

import structlog

from app.agents import services
from app.lib.db import TenantRef, tenant_context
from app.lib.errors import DomainError
from realtime.viewer import Viewer

log = structlog.get_logger(__name__)


async def on_presence(tenant: TenantRef, user: Viewer, value: Any) -> None:
    """The agent chose a status on a console; a value the picker never sends is ignored (logged)."""
    if not isinstance(value, str):
        return
    chosen, _, reason = value.partition(":")
    try:
        async with tenant_context(tenant):
            await services.choose(user, chosen, reason)  # type: ignore[arg-type]
    except DomainError as exc:
        log.info("agent_status_refused", user_id=user.user_id, value=value[:40], reason=exc.message)


async def on_presence_change(user_id: int, status: str) -> None:
    """realtime.presence watcher (inside its unit of work): consoles online/offline move the agent's state."""
    await services.on_presence(user_id, status)
