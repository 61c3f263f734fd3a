"""SQL of the contact list: filters, search and sorting in one place, parameterised (never string-built values)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from typing import Any

# Purchase figures per contact `c`, read from the orders tables by name (keep in step with app.orders.revenue,
# which computes the same figures for one contact's card). SQL text only: contacts sits below orders.
NET_REVENUE_SQL = "(SELECT coalesce(sum(o.paid - o.refunded), 0) FROM shop_order o WHERE o.contact = c.id)"
"""Net revenue of contact `c` in minor units (payments - refunds), for sorting and filtering contact lists."""
ORDER_COUNT_SQL = ("(SELECT count(*) FROM shop_order o LEFT JOIN order_status s ON s.key = o.status "
                   "WHERE o.contact = c.id AND coalesce(s.counts_as_sale, true))")
LAST_PURCHASE_SQL = "(SELECT max(o.placed_at) FROM shop_order o WHERE o.contact = c.id)"

SORTS = {
    "updated": "c.updated_at DESC, c.id DESC",
    "created": "c.created_at DESC, c.id DESC",
    "name": "lower(c.name) ASC, c.id ASC",
    "last_contact": "c.last_contact_at DESC NULLS LAST, c.id DESC",
    "revenue": f"{NET_REVENUE_SQL} DESC, c.id DESC",
    "orders": f"{ORDER_COUNT_SQL} DESC, c.id DESC",
    "last_purchase": f"{LAST_PURCHASE_SQL} DESC NULLS LAST, c.id DESC",
}


@dataclasses.dataclass
class ContactFilter:
    q: str = ""
    phone_e164: str | None = None
    tag: str | None = None
    temperature: str | None = None
    owner_id: int | None = None
    custom: dict[str, Any] = dataclasses.field(default_factory=dict)
    last_contact_from: dt.datetime | None = None
    last_contact_to: dt.datetime | None = None
    sort: str = "updated"
    min_revenue: int | None = None
    """Net revenue (payments - refunds) of at least this many minor units."""
    min_orders: int | None = None
    segment: int | None = None
    """A saved segment's id: only its contacts (services.prepare_filter resolves it into `within`)."""
    within: tuple[str, list[Any]] | None = None
    """A SELECT of contact ids (column `id`) with its own $1.. arguments: only those contacts."""


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def build(f: ContactFilter, *, limit: int, offset: int) -> tuple[str, list[Any]]:
    """SELECT of matching contact ids, with $n placeholders and their arguments."""
    where = ["c.deleted_at IS NULL"]
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    text = f.q.strip().lower()
    if text:
        digits = "".join(ch for ch in text if ch.isdigit())
        phoneish = len(digits) >= 3 and all(ch.isdigit() or ch in " +-().\u00a0" for ch in text)
        needle = digits if phoneish else text
        match = f"c.search_text ILIKE {arg(like_pattern(needle))}"
        if f.phone_e164:
            # ARRAY(...) runs the phone lookup once, so the planner can OR the trigram and primary-key indexes;
            # `IN (subquery)` made it walk the whole table at 1M contacts (see bench_contacts).
            match = (f"({match} OR c.id = ANY (ARRAY(SELECT p.contact FROM contact_phone p WHERE p.e164 = "  # noqa: S608 (values are $n parameters)
                     f"{arg(f.phone_e164)})))")
        where.append(match)
    if f.tag:
        where.append(f"c.tags @> ARRAY[{arg(f.tag)}]::varchar[]")
    if f.temperature:
        where.append(f"c.temperature = {arg(f.temperature)}")
    if f.owner_id is not None:
        where.append(f"c.owner = {arg(f.owner_id)}")
    if f.custom:
        where.append(f"c.custom @> {arg(json.dumps(f.custom))}::jsonb")
    if f.last_contact_from:
        where.append(f"c.last_contact_at >= {arg(f.last_contact_from)}")
    if f.last_contact_to:
        where.append(f"c.last_contact_at < {arg(f.last_contact_to)}")
    if f.min_revenue is not None:
        where.append(f"{NET_REVENUE_SQL} >= {arg(f.min_revenue)}")
    if f.min_orders is not None:
        where.append(f"{ORDER_COUNT_SQL} >= {arg(f.min_orders)}")
    if f.within is not None:
        inner, inner_args = f.within
        base = len(args)
        args.extend(inner_args)
        inner = re.sub(r"\$(\d+)", lambda m: f"${int(m.group(1)) + base}", inner)
        where.append(f"c.id IN ({inner})")
    order = SORTS.get(f.sort, SORTS["updated"])
    sql = (f"SELECT c.id FROM contact c WHERE {' AND '.join(where)} ORDER BY {order} "  # noqa: S608 (values are $n parameters)
           f"LIMIT {arg(limit)} OFFSET {arg(offset)}")
    return sql, args
