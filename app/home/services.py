"""What each role's home page shows, reloaded for every render (the page, its panels and the live pushes)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.accounts import services as accounts
from app.accounts.services import Principal
from app.conversations import console
from app.conversations.tables import OPEN_STATUSES
from app.lib import i18n
from app.lib.db import TenantRef, current_uow
from app.onboarding import services as onboarding


def month_start(zone: str, at: dt.datetime | None = None) -> dt.datetime:
    """The UTC moment the workspace's calendar month containing `at` began."""
    tz = i18n.pick_zone(zone)
    local = (at or i18n.now()).astimezone(tz)
    return i18n.day_start(tz, dt.datetime.combine(local.date().replace(day=1), dt.time(12), tzinfo=tz))


async def business(at: dt.datetime | None = None) -> dict[str, Any]:
    """Orders and revenue today and this month (per currency, the shop's own first), new clients today and
    open conversations; days and months are the workspace's."""
    ws = await accounts.workspace()
    today, month = i18n.day_start(ws["timezone"], at), month_start(ws["timezone"], at)
    conn = current_uow().connection
    rows = await conn.fetch(
        # As on the card (app.orders.revenue): revenue is money paid less refunds; cancelled orders are no sale.
        "SELECT o.currency, count(*) FILTER (WHERE o.placed_at >= $1 AND s.counts_as_sale) AS orders_today, "
        "coalesce(sum(o.paid - o.refunded) FILTER (WHERE o.placed_at >= $1), 0)::bigint AS revenue_today, "
        "count(*) FILTER (WHERE s.counts_as_sale) AS orders_month, "
        "coalesce(sum(o.paid - o.refunded), 0)::bigint AS revenue_month "
        "FROM shop_order o JOIN order_status s ON s.key = o.status "
        "WHERE o.placed_at >= $2 GROUP BY o.currency", today, month)
    per_currency = sorted((dict(r) for r in rows), key=lambda r: (r["currency"] != ws["currency"], -r["revenue_month"]))
    return {
        "currency": ws["currency"],
        "revenue": per_currency,
        "orders_today": sum(r["orders_today"] for r in per_currency),
        "orders_month": sum(r["orders_month"] for r in per_currency),
        "new_clients_today": await conn.fetchval(
            "SELECT count(*) FROM contact WHERE created_at >= $1 AND merged_into IS NULL", today),
        "open_conversations": await open_conversations(),
    }


async def open_conversations() -> int:
    """Conversations not closed yet (waiting, with an operator, in wrap-up, snoozed)."""
    return int(await current_uow().connection.fetchval(
        "SELECT count(*) FROM conversation WHERE status = ANY($1::text[])", list(OPEN_STATUSES)))


async def context(tenant: TenantRef, user: Principal) -> dict[str, Any]:
    """Everything the home page of `user`'s role renders; revenue only ever for admins and the owner."""
    ctx = await console.panel_context(tenant, user)
    ctx["workspace"] = await accounts.workspace()
    ctx["users"] = await accounts.list_users()
    ctx["panels"] = (["business", "checklist", "totals"] if user.has_role("admin")
                     else ["totals", "queue", "presence"] if user.has_role("supervisor")
                     else ["mine", "queue", "totals"])
    if user.has_role("admin"):
        ctx["business"] = await business()
        items = await onboarding.checklist()
        ctx["checklist"] = items if not all(i["done"] for i in items) else []
    return ctx
