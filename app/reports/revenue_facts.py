"""The revenue reports' facts: one row per order placed in a period (its net total, the last touch before it, the
client's temperature and tags, new or returning), the clients' lifetime values, and the tenant's revenue settings.

Net total of an order = payments - refunds (`app.orders.revenue.NET_TOTAL_SQL`, the card's definition); an order
"counts as a sale" unless its status says otherwise (cancelled, returned), as on the card."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from app.accounts.services import Principal
from app.audit import services as audit
from app.lib.db import current_uow
from app.lib.errors import Forbidden, Invalid
from app.orders.revenue import NET_TOTAL_SQL, SALE_SQL
from app.timeline.tables import CONVERSATION_CHANNELS

TOUCH_CHANNELS: tuple[str, ...] = tuple(CONVERSATION_CHANNELS)
"""What counts as a touch: an incoming or outgoing call, SMS, email or chat item on the client's timeline."""


@dataclasses.dataclass(frozen=True)
class RevenueSettings:
    touch_days: int = 7
    """The last touch counts when it happened at most this many days (24 h each) before the order was placed."""
    lapsed_factor: float = 2.0
    """A repeat client stopped buying when their last order is older than this many times their usual interval."""
    lapsed_days: int = 180
    """... or older than this many days, whatever their interval."""


LIMITS = {"touch_days": (1, 365), "lapsed_days": (1, 3650)}
FACTOR_LIMITS = (1.0, 20.0)


async def settings() -> RevenueSettings:
    row = await current_uow().connection.fetchrow(
        "SELECT touch_days, lapsed_factor, lapsed_days FROM report_revenue_setting WHERE id = 1")
    return RevenueSettings(**dict(row)) if row else RevenueSettings()


def check_settings(touch_days: int, lapsed_factor: float, lapsed_days: int) -> RevenueSettings:
    for field, value in (("touch_days", touch_days), ("lapsed_days", lapsed_days)):
        low, high = LIMITS[field]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise Invalid("%(field_name)s must be a whole number of days from %(low)s to %(high)s.", field=field,
                          field_name=field, low=low, high=high)
    low_f, high_f = FACTOR_LIMITS
    if isinstance(lapsed_factor, bool) or not isinstance(lapsed_factor, int | float) \
            or not low_f <= lapsed_factor <= high_f:
        raise Invalid("lapsed_factor must be a number from %(low)s to %(high)s, e.g. 2 for “twice their usual "
                      "interval”.", field="lapsed_factor", low=low_f, high=high_f)
    return RevenueSettings(touch_days, round(float(lapsed_factor), 2), lapsed_days)


async def save_settings(new: RevenueSettings) -> None:
    await current_uow().connection.execute(
        "INSERT INTO report_revenue_setting (id, touch_days, lapsed_factor, lapsed_days, updated_at) "
        "VALUES (1, $1, $2, $3, now()) ON CONFLICT (id) DO UPDATE SET touch_days = EXCLUDED.touch_days, "
        "lapsed_factor = EXCLUDED.lapsed_factor, lapsed_days = EXCLUDED.lapsed_days, updated_at = now()",
        new.touch_days, new.lapsed_factor, new.lapsed_days)


async def configure(actor: Principal, *, touch_days: int, lapsed_factor: float, lapsed_days: int) -> RevenueSettings:
    """An admin sets the revenue reports' rules (checked, saved, in the audit log with the old and new values)."""
    if not actor.has_role("admin"):
        raise Forbidden("Only admins change the revenue report's settings.")
    new = check_settings(touch_days, lapsed_factor, lapsed_days)
    old = await settings()
    await save_settings(new)
    await audit.record("revenue_settings.updated", actor_id=actor.user_id, actor=actor.label,
                       target_type="report", target_id="revenue",
                       detail={"from": dataclasses.asdict(old), "to": dataclasses.asdict(new)})
    return new


# One row per order of `currency` placed in [start, end). The last touch: the newest call/SMS/email/chat item
# (incoming or outgoing; internal notes about a call are not a touch) at most `touch_days` before the order; who
# handled it: the staff member who wrote it, else the one the conversation it belongs to is assigned to; with no
# such person, the order's creator (the audit log's `order.created`). Returning: the client has an earlier order
# that counts as a sale (in any currency).
_ORDERS = f"""
WITH placed AS (
    SELECT o.id, o.number, o.contact, o.placed_at, {NET_TOTAL_SQL}::bigint AS net, {SALE_SQL} AS sale
    FROM shop_order o LEFT JOIN order_status s ON s.key = o.status
    WHERE o.placed_at >= $1 AND o.placed_at < $2 AND o.currency = $3 /*extra*/
), creator AS (
    SELECT DISTINCT ON (a.target_id) a.target_id, a.actor_id
    FROM audit_entry a
    WHERE a.action = 'order.created' AND a.target_type = 'order' AND a.actor_id IS NOT NULL
      AND a.target_id IN (SELECT id::text FROM placed)
    ORDER BY a.target_id, a.id
)
SELECT p.id, p.number, p.contact, p.placed_at, p.net, p.sale, c.name AS contact_name,
       coalesce(c.temperature, '') AS temperature, coalesce(c.tags, '{{}}') AS tags,
       (p.placed_at AT TIME ZONE $4)::date AS local_day,
       t.channel AS touch_channel, t.occurred_at AS touch_at, coalesce(t.operator, cr.actor_id) AS operator,
       EXISTS (SELECT 1 FROM shop_order e LEFT JOIN order_status s ON s.key = e.status
               WHERE e.contact = p.contact AND {SALE_SQL}
                 AND (e.placed_at, e.id) < (p.placed_at, p.id)) AS returning
FROM placed p
JOIN contact c ON c.id = p.contact
LEFT JOIN LATERAL (
    SELECT i.channel, i.occurred_at,
           coalesce(CASE WHEN i.actor_type = 'user' THEN i.actor_id END, cv.assigned_to) AS operator
    FROM interaction i
    LEFT JOIN conversation cv ON cv.id = CASE WHEN jsonb_typeof(i.links -> 'conversation_id') = 'number'
                                              THEN (i.links ->> 'conversation_id')::int END
    WHERE i.contact = p.contact AND i.channel = ANY($5::text[]) AND i.direction IN ('in', 'out')
      AND i.occurred_at <= p.placed_at AND i.occurred_at >= p.placed_at - $6 * interval '24 hours'
    ORDER BY i.occurred_at DESC, i.id DESC
    LIMIT 1
) t ON true
LEFT JOIN creator cr ON cr.target_id = p.id::text
ORDER BY p.placed_at, p.id
"""  # noqa: S608 (constant fragments; values are parameters)


async def orders(start: dt.datetime, end: dt.datetime, currency: str, zone: str, touch_days: int,
                 contact_id: int | None = None) -> list[dict[str, Any]]:
    """Every order of `currency` placed in [start, end) with its net total and what the reports group it by."""
    args: list[Any] = [start, end, currency, zone, list(TOUCH_CHANNELS), touch_days]
    extra = ""
    if contact_id is not None:
        args.append(contact_id)
        extra = "AND o.contact = $7"
    rows = await current_uow().connection.fetch(_ORDERS.replace("/*extra*/", extra), *args)
    return [dict(r) for r in rows]


# Per client, over their orders of `currency` placed before `end`: the lifetime value (the sum of their net totals),
# the orders that count as sales, the first and the last of those.
_CLIENTS = f"""
SELECT o.contact, c.name AS contact_name,
       coalesce(sum({NET_TOTAL_SQL}), 0)::bigint AS ltv,
       count(*) FILTER (WHERE {SALE_SQL})::int AS sales,
       min(o.placed_at) FILTER (WHERE {SALE_SQL}) AS first_at,
       max(o.placed_at) FILTER (WHERE {SALE_SQL}) AS last_at
FROM shop_order o LEFT JOIN order_status s ON s.key = o.status JOIN contact c ON c.id = o.contact
WHERE o.placed_at < $1 AND o.currency = $2 /*extra*/
GROUP BY o.contact, c.name
"""  # noqa: S608 (constant fragments; values are parameters)


async def clients(end: dt.datetime, currency: str, contact_ids: list[int] | None = None) -> dict[int, dict[str, Any]]:
    """Lifetime figures of clients up to `end`: all of them, or those of `contact_ids`."""
    extra, args = "", [end, currency]
    if contact_ids is not None:
        extra, args = "AND o.contact = ANY($3::int[])", [end, currency, contact_ids]
    rows = await current_uow().connection.fetch(_CLIENTS.replace("/*extra*/", extra), *args)
    return {r["contact"]: dict(r) for r in rows}


async def client_orders(contact_id: int, end: dt.datetime, currency: str) -> list[dict[str, Any]]:
    """One client's orders of `currency` placed before `end` (the drill of their lifetime value)."""
    rows = await current_uow().connection.fetch(
        f"SELECT o.id, o.number, o.contact, c.name AS contact_name, o.placed_at, {NET_TOTAL_SQL}::bigint AS net, "  # noqa: S608
        f"{SALE_SQL} AS sale FROM shop_order o LEFT JOIN order_status s ON s.key = o.status "
        "JOIN contact c ON c.id = o.contact WHERE o.contact = $1 AND o.placed_at < $2 AND o.currency = $3 "
        "ORDER BY o.placed_at, o.id", contact_id, end, currency)
    return [dict(r) for r in rows]


async def currencies(start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """Orders placed in [start, end) per currency: the report is in one currency and says what else there is."""
    rows = await current_uow().connection.fetch(
        "SELECT currency, count(*)::int AS n FROM shop_order WHERE placed_at >= $1 AND placed_at < $2 "
        "GROUP BY currency ORDER BY n DESC, currency", start, end)
    return {r["currency"]: r["n"] for r in rows}
