"""Revenue per contact, computed by SQL from orders and payments: net revenue = payments - refunds."""

from __future__ import annotations

from typing import Any

from app.lib.db import current_uow

# One row per currency: a contact who bought in USD and EUR has two figures, never a sum of different moneys.
# Cancelled/returned orders (counts_as_sale = false) leave the order count, and their net money stays in revenue
# (a returned order is normally refunded, which takes it out).
_PER_CURRENCY = """
SELECT o.currency,
       coalesce(sum(o.paid - o.refunded), 0)::bigint AS revenue,
       count(*) FILTER (WHERE coalesce(s.counts_as_sale, true))::int AS orders,
       max(o.placed_at) FILTER (WHERE coalesce(s.counts_as_sale, true)) AS last_purchase_at
FROM shop_order o LEFT JOIN order_status s ON s.key = o.status
WHERE o.contact = $1
GROUP BY o.currency
ORDER BY revenue DESC, o.currency
"""

NET_REVENUE_SQL = "(SELECT coalesce(sum(o.paid - o.refunded), 0) FROM shop_order o WHERE o.contact = c.id)"
"""Net revenue of contact `c` in minor units, for sorting and filtering contact lists (see contacts.queries)."""
ORDER_COUNT_SQL = ("(SELECT count(*) FROM shop_order o LEFT JOIN order_status s ON s.key = o.status "
                   "WHERE o.contact = c.id AND coalesce(s.counts_as_sale, true))")
LAST_PURCHASE_SQL = "(SELECT max(o.placed_at) FROM shop_order o WHERE o.contact = c.id)"


async def for_contact(contact_id: int) -> list[dict[str, Any]]:
    rows = await current_uow().connection.fetch(_PER_CURRENCY, contact_id)
    out = []
    for r in rows:
        d = dict(r)
        d["average_order_value"] = d["revenue"] // d["orders"] if d["orders"] else 0
        out.append(d)
    return out
