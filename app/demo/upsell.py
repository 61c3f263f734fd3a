"""The demo shop's upsell: product categories on every order line, a few clients who buy shoes with socks (a pair
"bought X, also bought Y") and one who reorders socks about monthly and is due again (a reorder suggestion), then
one recompute so the card, the console and /upsell/ show them from the first sign-in."""

from __future__ import annotations

from typing import Any

from app.demo.seed import Writer
from app.demo.story import DAY, HOUR, WINDOW
from app.demo.texts import Locale
from app.lib import i18n, money
from app.lib.db import current_uow
from app.orders.tables import Order, OrderItem, OrderPayment, OrderStatusChange
from app.upsell import services as upsell

# SKU prefix -> category key; names in the demo's language (customer data, like the product names).
CATEGORY_OF = {"SH": "footwear", "SK": "footwear", "JK": "clothing", "FL": "clothing", "BT": "kitchen",
               "ST": "kitchen", "BP": "gear", "TP": "gear", "HL": "gear", "SB": "gear", "GC": "gifts"}
CATEGORY_NAMES = {
    "en": {"footwear": "Footwear", "clothing": "Clothing", "kitchen": "Camp kitchen", "gear": "Gear",
           "gifts": "Gift cards"},
    "ru": {"footwear": "Обувь", "clothing": "Одежда", "kitchen": "Походная кухня", "gear": "Снаряжение",
           "gifts": "Подарочные карты"},
    "bg": {"footwear": "Обувки", "clothing": "Облекло", "kitchen": "Къмпинг кухня", "gear": "Екипировка",
           "gifts": "Карти за подарък"},
}
SHOES, SOCKS = 0, 2
"""Indexes in the locale's products: trail running shoes and merino socks."""
PAIR_BUYERS = 5
"""Clients who bought shoes and socks together; one more bought only shoes (the pair suggests socks to them)."""
REORDERS = (89 * DAY, 59 * DAY, 31 * DAY)
"""Socks every 30 and 28 days (median 29): the last 31 days ago, so due two days ago."""


def category(loc: Locale, sku: str) -> str:
    names = CATEGORY_NAMES.get(loc.code[:2], CATEGORY_NAMES["en"])
    return names.get(CATEGORY_OF.get(sku[:2], ""), "")


async def _categorise(loc: Locale) -> None:
    skus = sorted({sku for _, sku, _ in loc.products})
    await current_uow().connection.execute(
        "UPDATE order_item SET category = c.name FROM unnest($1::text[], $2::text[]) AS c(sku, name) "
        "WHERE order_item.sku = c.sku AND order_item.category = ''", skus, [category(loc, s) for s in skus])


def _buyers(w: Writer, n: int) -> list[int]:
    """Story contacts without orders of their own who came with the first import (before every order below)."""
    ordering = {o["contact"] for o in w.story.orders}
    out = [i for i, c in enumerate(w.story.contacts) if i not in ordering and c["created"] >= WINDOW - 2 * HOUR]
    return out[:n]


async def write(w: Writer, loc: Locale, status: str = "delivered") -> dict[str, int]:
    """Categories, the pair and reorder clients' orders (delivered and paid), then one recompute."""
    await _categorise(loc)
    exp = 10 ** money.exponent(loc.currency)
    shoes, socks = loc.products[SHOES], loc.products[SOCKS]
    buyers = _buyers(w, PAIR_BUYERS + 2)
    plans: list[tuple[int, int, list[tuple[str, str, int]]]] = []  # (contact, seconds before anchor, lines)
    for n, contact in enumerate(buyers[:PAIR_BUYERS]):
        plans.append((contact, (60 - 7 * n) * DAY + 3 * HOUR, [shoes, socks]))
    plans.append((buyers[PAIR_BUYERS], 20 * DAY + 5 * HOUR, [shoes]))
    plans += [(buyers[PAIR_BUYERS + 1], at + 2 * HOUR, [socks]) for at in REORDERS]
    ids = await w.ids("shop_order", len(plans))
    orders, items, pays, changes = [], [], [], []
    for oid, (contact, at, lines) in zip(ids, plans, strict=True):
        rows = [{"name": name, "sku": sku, "category": category(loc, sku), "quantity": 1, "unit_price": price * exp,
                 "line_total": price * exp} for name, sku, price in lines]
        total = sum(r["line_total"] for r in rows)
        number = f"SB-{oid:06d}"
        orders.append(Order(id=oid, contact=w.contact_ids[contact], number=number, external_id=f"web-upsell-{oid}",
                            currency=loc.currency, status=status, subtotal=total, total=total, paid=total,
                            placed_at=w.at(at), created_at=w.at(at), updated_at=w.at(at - HOUR), version=3))
        items += [OrderItem(shop_order=oid, position=i, **r) for i, r in enumerate(rows)]
        pays.append(OrderPayment(shop_order=oid, kind="payment", amount=total, method=loc.methods[0],
                                 paid_at=w.at(at - 60), external_id=f"web-upsell-{oid}-payment",
                                 created_at=w.at(at - 60)))
        changes.append(OrderStatusChange(shop_order=oid, from_status=None, to_status=status, actor_label="system",
                                         changed_at=w.at(at)))
        w.later(at, contact, "order", "in", "Order %(number)s placed: %(total)s",
                params={"number": number, "total": i18n.money_param(total, loc.currency)}, links={"order_id": oid},
                payload={"event": "created", "order_id": oid, "number": number, "total": total,
                         "currency": loc.currency, "status": status}, actor_type="system", actor_label="system")
    await Order.insert(*orders)
    await OrderItem.insert(*items)
    await OrderPayment.insert(*pays)
    await OrderStatusChange.insert(*changes)
    counts: dict[str, Any] = await upsell.recompute()
    return counts
