"""Revenue per contact, computed by SQL from orders and payments: net revenue = payments - refunds.

The same figures as SQL expressions for sorting and filtering contact lists live in app.contacts.queries (the
contact list reads the orders tables by name; contacts does not import the orders domain)."""

from __future__ import annotations

from typing import Any

from app.lib import i18n
from app.lib import money as _money  # noqa: F401  (registers its currency digits for format_money)
from app.lib.db import current_uow

NET_TOTAL_SQL = "(o.paid - o.refunded)"
"""An order's net total in minor units (payments - refunds), over `shop_order o`: the one definition of revenue
(the card, the contact lists, the home page and the revenue reports all sum it)."""
SALE_SQL = "coalesce(s.counts_as_sale, true)"
"""Whether an order counts as a sale, over `shop_order o LEFT JOIN order_status s ON s.key = o.status`: cancelled
and returned orders leave the order count and the average order value (their net money stays in revenue)."""

# One row per currency: a contact who bought in USD and EUR has two figures, never a sum of different moneys.
# Cancelled/returned orders (counts_as_sale = false) leave the order count, and their net money stays in revenue
# (a returned order is normally refunded, which takes it out).
_PER_CURRENCY = f"""
SELECT o.contact, o.currency,
       coalesce(sum({NET_TOTAL_SQL}), 0)::bigint AS revenue,
       count(*) FILTER (WHERE {SALE_SQL})::int AS orders,
       max(o.placed_at) FILTER (WHERE {SALE_SQL}) AS last_purchase_at,
       count(*) FILTER (WHERE NOT coalesce(s.final, false))::int AS open_orders
FROM shop_order o LEFT JOIN order_status s ON s.key = o.status
WHERE o.contact = ANY($1::int[])
GROUP BY o.contact, o.currency
ORDER BY o.contact, revenue DESC, o.currency
"""  # noqa: S608 (a constant)



async def per_currency(contact_ids: list[int]) -> list[dict[str, Any]]:
    """The one revenue query: per contact and currency, net revenue, orders that count as sales, the last purchase
    and the orders not in a final status; each contact's biggest currency first."""
    if not contact_ids:
        return []
    return [dict(r) for r in await current_uow().connection.fetch(_PER_CURRENCY, contact_ids)]


async def for_contact(contact_id: int) -> list[dict[str, Any]]:
    out = []
    for d in await per_currency([contact_id]):
        d = {k: d[k] for k in ("currency", "revenue", "orders", "last_purchase_at")}
        d["average_order_value"] = d["revenue"] // d["orders"] if d["orders"] else 0
        out.append(d)
    return out


async def callers(contact_ids: list[int]) -> dict[int, dict[str, Any]]:
    """For the console's call items: each caller's lifetime value (biggest currency) and open orders (all)."""
    if not contact_ids:
        return {}
    seen: dict[int, dict[str, Any]] = {}
    for r in await per_currency(contact_ids):
        row = seen.setdefault(r["contact"], {"lifetime_value": i18n.format_money(r["revenue"], r["currency"]),
                                                "open_orders": 0})
        row["open_orders"] += r["open_orders"]
    return seen
