"""Upsell's background work: recompute pairs and suggestions (debounced after order events, and nightly), and the
durable listeners that queue it and attribute orders to the suggestions shown before them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.accounts.services import workspace_zone
from app.lib import jobs
from app.lib.db import current_tenant, resolve_active, tenant_context
from app.upsell import services
from realtime.events import Event

RECOMPUTE_JOB = "upsell.recompute"
DEBOUNCE = dt.timedelta(minutes=2)
"""After an order event, wait this long so a burst of orders (an import) costs one recompute."""
NIGHT_HOUR = 4
"""Local hour of the nightly recompute (reorder suggestions fall due by the day)."""
ORDER_EVENTS = frozenset({"order.created", "order.updated", "order.status_changed"})


def _key(suffix: str) -> str:
    return f"upsell:recompute:{current_tenant().slug}:{suffix}"


async def queue_recompute() -> None:
    """Queue a recompute in DEBOUNCE (one at a time: while one is queued, nothing more is added)."""
    await jobs.enqueue(RECOMPUTE_JOB, {"reason": "orders"}, delay=DEBOUNCE, dedupe_key=_key("soon"))


async def schedule_nightly() -> None:
    await jobs.enqueue_nightly(RECOMPUTE_JOB, hour=NIGHT_HOUR, zone=await workspace_zone(), key=_key("nightly"),
                               payload={"reason": "nightly"})


async def recompute(payload: dict[str, Any]) -> None:
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        await services.recompute()
        await schedule_nightly()


async def on_order_event(event: Event) -> None:
    """Durable listener: orders changed, so pairs and suggestions will be recomputed (debounced)."""
    await queue_recompute()


async def on_order_created(event: Event) -> None:
    """Durable listener: an order holding a product suggested to its contact shortly before becomes 'ordered'."""
    await services.attribute_order(int(event.data["order_id"]))
