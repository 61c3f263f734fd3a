"""Background jobs of the contacts domain."""

from __future__ import annotations

from typing import Any

from app.contacts import imports
from app.lib.db import resolve_active


async def run_import(payload: dict[str, Any]) -> None:
    """Land the rows of a CSV import in batches; resumes at the last committed row when retried."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return  # the shop was suspended or removed since the import started
    await imports.run(tenant, int(payload["import_id"]), actor_label=str(payload.get("actor", "")))
