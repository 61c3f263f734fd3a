"""Revenue per contact, computed by SQL from orders and payments: net revenue = payments - refunds.

The same figures as SQL expressions for sorting and filtering contact lists live in app.contacts.queries (the
contact list reads the orders tables by name; contacts does not import the orders domain)."""

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



async def for_contact(contact_id: int) -> list[dict[str, Any]]:
    rows = await current_uow().connection.fetch(_PER_CURRENCY, contact_id)
    out = []
    for r in rows:
        d = dict(r)
        d["average_order_value"] = d["revenue"] // d["orders"] if d["orders"] else 0
        out.append(d)
    return out
