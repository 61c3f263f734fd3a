"""Append to and read the audit log of the current tenant."""

from __future__ import annotations

from typing import Any

from app.audit.tables import AuditEntry
from app.lib import reqctx


async def record(action: str, *, actor_id: int | None = None, actor: str = "", target_type: str = "",
                 target_id: Any = "", detail: dict[str, Any] | None = None) -> None:
    """Write one entry inside the current unit of work (it commits or rolls back with the change it records)."""
    await AuditEntry.insert(AuditEntry(
        actor_id=actor_id, actor=actor, action=action, target_type=target_type,
        target_id=str(target_id) if target_id is not None else "", detail=detail or {}, ip=reqctx.client_ip.get(),
    ))


async def page(limit: int = 50, before_id: int | None = None, action: str | None = None) -> list[dict[str, Any]]:
    query = AuditEntry.select().order_by(AuditEntry.id, ascending=False).limit(min(max(limit, 1), 200)).output(
        load_json=True)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if action:
        query = query.where(AuditEntry.action == action)
    return await query
