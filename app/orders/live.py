"""Live order page: a status change or payment by the API or another operator appears on every open page of that
order (status, totals, the status controls with the fresh version, history, payments), reloaded, never trusted
from the event."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal
from app.lib import money
from app.lib.db import TenantRef
from app.lib.errors import NotFound
from app.lib.templates import render_text
from app.orders import pipeline, revenue, services
from realtime import renders
from realtime.events import Event
from realtime.render import EVERYONE


async def page_parts(order_id: int) -> dict[str, Any]:
    """What the live parts of the order page show (the page itself uses the same)."""
    order = await services.get(order_id)
    defs = await pipeline.by_key()
    nxt = [defs[k] for k in defs[order["status"]]["allowed"] if k in defs and not defs[k]["archived"]] \
        if order["status"] in defs else []
    return {"o": order, "defs": defs, "next_statuses": nxt, "fmt": money.fmt}


@renders("order.status_changed", "order.updated", audience=EVERYONE)
async def order_page(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    order_id = event.data.get("order_id")
    if order_id is None or f"order:{order_id}" not in event.channels:
        return None
    try:
        ctx = await page_parts(int(order_id))
    except NotFound:
        return None
    return render_text("_partials/order_live.html", {**ctx, "oob": True})


async def console_callers(ctx: dict[str, Any]) -> dict[str, Any]:
    """The console's call items show the caller's lifetime value and open orders (`customers`)."""
    items = [c for c in [*ctx["waiting"], *ctx["mine"]] if c["channel"] == "call" and c["contact_id"]]
    return {"customers": await revenue.callers(sorted({c["contact_id"] for c in items}))}
