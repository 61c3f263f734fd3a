"""Order rules: create (idempotent on the shop's id), edit, status changes along the pipeline, payments, refunds.

Every change locks the order row (SELECT ... FOR UPDATE) for the rest of its unit of work, so concurrent edits,
payments and status changes run one after another and none is lost; `version` lets clients refuse stale edits.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.accounts.services import Principal
from app.accounts.tables import Workspace
from app.audit import services as audit
from app.contacts import identities
from app.contacts import services as contacts
from app.contacts.tables import Contact
from app.lib import i18n, money
from app.lib.clock import now
from app.lib.db import current_uow
from app.lib.domain import MergeStep
from app.lib.errors import Conflict, Invalid, NotFound
from app.lib.identities import normalize_email, normalize_phone
from app.orders import events, pipeline
from app.orders.tables import Order, OrderItem, OrderPayment, OrderStatusChange
from app.timeline import services as timeline
from realtime.publish import emit

MAX_ITEMS = 500
ORDER_COLUMNS = (Order.id, Order.contact.as_alias("contact_id"), Order.number, Order.external_id, Order.currency,
                 Order.status, Order.subtotal, Order.shipping, Order.discount, Order.total, Order.paid,
                 Order.refunded, Order.delivery_address, Order.note, Order.placed_at, Order.created_at,
                 Order.updated_at, Order.version, Order.portal_token_hash)


def _text(value: Any, field: str, limit: int, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise Invalid("%(field_name)s must be text.", field=field, field_name=field)
    value = value.strip()
    if required and not value:
        raise Invalid("%(field_name)s is required.", field=field, field_name=field)
    if len(value) > limit:
        raise Invalid("%(field_name)s must be at most %(limit)s characters.", field=field, field_name=field,
                      limit=limit)
    return value


def clean_items(items: list[Any]) -> list[dict[str, Any]]:
    if not items:
        raise Invalid("An order needs at least one item.", field="items")
    if len(items) > MAX_ITEMS:
        raise Invalid("At most %(max_items)s items per order.", field="items", max_items=MAX_ITEMS)
    out = []
    for i, item in enumerate(items):
        get = item.get if isinstance(item, dict) else lambda k, it=item: getattr(it, k, None)
        quantity = get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= 1_000_000:
            raise Invalid("items[%(i)s].quantity must be a whole number from 1 to 1000000.",
                          field=f"items[{i}].quantity", i=i)
        price = money.check_amount(get("unit_price"), f"items[{i}].unit_price")
        out.append({"name": _text(get("name"), f"items[{i}].name", 200, required=True),
                    "sku": _text(get("sku") or "", f"items[{i}].sku", 64),
                    "category": _text(get("category") or "", f"items[{i}].category", 100), "quantity": quantity,
                    "unit_price": price, "line_total": quantity * price})
    return out


def totals(items: list[dict[str, Any]], shipping: int, discount: int) -> dict[str, int]:
    """Recomputed on the server from the items: what the shop sent as a total is never trusted."""
    subtotal = sum(i["line_total"] for i in items)
    money.check_amount(shipping, "shipping")
    money.check_amount(discount, "discount")
    if discount > subtotal + shipping:
        raise Invalid("discount is larger than the items and shipping together.", field="discount")
    return {"subtotal": subtotal, "shipping": shipping, "discount": discount,
            "total": money.check_amount(subtotal + shipping - discount, "total")}


async def _contact_for(actor: Principal, contact_id: int | None, customer: Any) -> int:
    if contact_id is not None:
        if not await Contact.exists().where((Contact.id == contact_id) & Contact.deleted_at.is_null()):
            raise Invalid("No contact %(contact_id)s.", field="contact_id", contact_id=contact_id)
        return contact_id
    if customer is None:
        raise Invalid("Say who ordered: contact_id, or customer with an email or phone.", field="contact_id")
    email = normalize_email(customer.email, field="customer.email") if customer.email else None
    phone = normalize_phone(customer.phone, await contacts.default_region(),
                            field="customer.phone") if customer.phone else None
    return await identities.find_or_create(actor, email=email, phone=phone, name=customer.name, source="order")


def _actor_fields(actor: Principal | None) -> dict[str, Any]:
    if actor is None:
        return {"actor_type": "system", "actor_id": None, "actor_label": "system"}
    return {"actor_type": "user", "actor_id": actor.user_id, "actor_label": actor.label}


async def default_currency() -> str:
    """The workspace's currency: what an order (form, API, import) that names none is in."""
    row = await Workspace.select(Workspace.currency).first()
    return str(row["currency"]) if row and row["currency"] else "USD"


async def create(actor: Principal, data: Any) -> tuple[dict[str, Any], bool]:
    """Create an order; with an external_id already known, return that order instead (created=False)."""
    conn = current_uow().connection
    external_id = _text(data.external_id, "external_id", 100) if data.external_id is not None else None
    if external_id:
        # Same key from two requests at once: the second waits here, then finds the first one's order.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('shop_order'), hashtext($1))", external_id)
        existing = await Order.select(Order.id).where(Order.external_id == external_id).first()
        if existing is not None:
            return await get(existing["id"]), False
    currency = money.check_currency(data.currency or await default_currency())
    items = clean_items(data.items)
    sums = totals(items, data.shipping, data.discount)
    status = data.status or await pipeline.initial_status()
    await pipeline.check_transition(None, status)
    number = _text(data.number, "number", 50) if data.number else None
    if number and await Order.exists().where(Order.number == number):
        raise Conflict("An order numbered %(number)s exists already.", field="number", number=repr(number))
    contact_id = await _contact_for(actor, data.contact_id, data.customer)
    order_id = int(await conn.fetchval("SELECT nextval(pg_get_serial_sequence('shop_order', 'id'))"))
    t = now()
    await Order.insert(Order(
        id=order_id, contact=contact_id, number=number or f"SB-{order_id:06d}", external_id=external_id or None,
        currency=currency, status=status, **sums, delivery_address=_text(data.delivery_address, "delivery_address",
                                                                         2000),
        note=_text(data.note, "note", 2000), placed_at=data.placed_at or t, created_at=t, updated_at=t))
    await OrderItem.insert(*[OrderItem(shop_order=order_id, position=i, **item) for i, item in enumerate(items)])
    await OrderStatusChange.insert(OrderStatusChange(shop_order=order_id, from_status=None, to_status=status,
                                                     actor_label=actor.label, changed_at=t))
    order = await get(order_id)
    await timeline.record(contact_id, "order", "in", "Order %(number)s placed: %(total)s",
                          params={"number": order["number"], "total": i18n.money_param(sums["total"], currency)},
                          links={"order_id": order_id},
                          payload={"event": "created", "order_id": order_id, "number": order["number"],
                                   "total": sums["total"], "currency": currency, "status": status},
                          **_actor_fields(actor))
    await audit.record("order.created", actor_id=actor.user_id, actor=actor.label, target_type="order",
                       target_id=order_id, detail={"number": order["number"], "external_id": external_id,
                                                   "total": sums["total"], "currency": currency})
    for i, payment in enumerate(data.payments or []):
        await _add_money(actor, order_id, "payment", payment, field=f"payments[{i}]", announce=False)
    await emit(events.ORDER_CREATED, order_id=order_id, contact_id=contact_id)
    return await get(order_id), True


async def lock(order_id: int) -> dict[str, Any]:
    """The order row, locked until the unit of work ends; 404 when it does not exist."""
    row = await current_uow().connection.fetchrow(
        "SELECT id, contact, number, status, version, currency, paid, refunded, total FROM shop_order "
        "WHERE id = $1 FOR UPDATE", order_id)
    if row is None:
        raise NotFound("No order %(order_id)s.", order_id=order_id)
    return dict(row)


def _check_version(row: dict[str, Any], version: int | None) -> None:
    if version is not None and version != row["version"]:
        raise Conflict("Order %(number)s was changed by someone else (version %(version)s, you had %(yours)s); "
                       "reload it and apply your change again.", extra={"version": row["version"]},
                       number=row['number'], version=row['version'], yours=version)


async def _touch(order_id: int, changes: dict[Any, Any]) -> None:
    changes[Order.updated_at] = now()
    changes[Order.version] = Order.version + 1
    await Order.update(changes).where(Order.id == order_id)


async def change_status(actor: Principal, order_id: int, status: str, *, note: str = "",
                        version: int | None = None) -> dict[str, Any]:
    row = await lock(order_id)
    _check_version(row, version)
    status = (status or "").strip()
    if status == row["status"]:
        return await get(order_id)  # a shop re-sending the same status: nothing happens, nothing is recorded twice
    target = await pipeline.check_transition(row["status"], status)
    note = _text(note, "note", 500)
    await _touch(order_id, {Order.status: status})
    await OrderStatusChange.insert(OrderStatusChange(shop_order=order_id, from_status=row["status"],
                                                     to_status=status, actor_label=actor.label, note=note))
    await timeline.record(row["contact"], "order", "internal",
                          "Order %(number)s: %(from)s → %(to)s",
                          params={"number": row["number"], "from": row["status"], "to": target["label"]},
                          translated=("to",), links={"order_id": order_id},
                          payload={"event": "status_changed", "order_id": order_id, "from": row["status"],
                                   "to": status, "note": note}, **_actor_fields(actor))
    await audit.record("order.status_changed", actor_id=actor.user_id, actor=actor.label, target_type="order",
                       target_id=order_id, detail={"from": row["status"], "to": status})
    # The customer's status email is a durable listener on this event (app/listeners.py), not a call from here.
    await emit(events.ORDER_STATUS_CHANGED, order_id=order_id, contact_id=row["contact"], status=status)
    return await get(order_id)


async def add_payment(actor: Principal, order_id: int, data: Any) -> dict[str, Any]:
    return await _add_money(actor, order_id, "payment", data, field="")


async def add_refund(actor: Principal, order_id: int, data: Any) -> dict[str, Any]:
    return await _add_money(actor, order_id, "refund", data, field="")


async def _add_money(actor: Principal, order_id: int, kind: str, data: Any, *, field: str,
                     announce: bool = True) -> dict[str, Any]:
    prefix = f"{field}." if field else ""
    row = await lock(order_id)
    external_id = _text(data.external_id, f"{prefix}external_id", 100) if data.external_id else None
    if external_id:
        seen = await OrderPayment.select(OrderPayment.shop_order, OrderPayment.kind).where(
            OrderPayment.external_id == external_id).first()
        if seen is not None:
            if seen["shop_order"] != order_id or seen["kind"] != kind:
                raise Conflict("The %(kind)s %(external_id)s is already recorded on another order or as a %(other)s.",
                               field=f"{prefix}external_id", kind=i18n.gettext(kind), external_id=repr(external_id),
                               other=i18n.gettext(seen["kind"]))
            return await get(order_id)
    amount = money.check_amount(data.amount, f"{prefix}amount", allow_zero=False)
    if kind == "refund" and amount > row["paid"] - row["refunded"]:
        raise Invalid("A refund of %(amount)s is more than was paid and not yet refunded (%(available)s).",
                      field=f"{prefix}amount", amount=money.fmt(amount, row['currency']),
                      available=money.fmt(row['paid'] - row['refunded'], row['currency']))
    method = _text(data.method or "", f"{prefix}method", 40)
    note = _text(data.note or "", f"{prefix}note", 500)
    paid_at = data.paid_at or now()
    await OrderPayment.insert(OrderPayment(shop_order=order_id, kind=kind, amount=amount, method=method,
                                           paid_at=paid_at, external_id=external_id, note=note,
                                           created_by=actor.user_id))
    column = Order.paid if kind == "payment" else Order.refunded
    await _touch(order_id, {column: column + amount})
    await timeline.record(row["contact"], "order", "in" if kind == "payment" else "out",
                          (("Order %(number)s: payment received %(amount)s (%(method)s)" if method
                            else "Order %(number)s: payment received %(amount)s") if kind == "payment"
                           else ("Order %(number)s: refund %(amount)s (%(method)s)" if method
                                 else "Order %(number)s: refund %(amount)s")),
                          params={"number": row["number"], "amount": i18n.money_param(amount, row["currency"]),
                                  **({"method": method} if method else {})}, links={"order_id": order_id},
                          payload={"event": "payment_received" if kind == "payment" else "refund", "order_id": order_id,
                                   "amount": amount, "currency": row["currency"], "method": method},
                          occurred_at=paid_at, **_actor_fields(actor))
    await audit.record(f"order.{kind}", actor_id=actor.user_id, actor=actor.label, target_type="order",
                       target_id=order_id, detail={"amount": amount, "currency": row["currency"], "method": method,
                                                   "external_id": external_id})
    if announce:
        await emit(events.ORDER_UPDATED, order_id=order_id, contact_id=row["contact"])
    return await get(order_id)


async def update(actor: Principal, order_id: int, changes: dict[str, Any], *, version: int | None = None
                 ) -> dict[str, Any]:
    row = await lock(order_id)
    _check_version(row, version)
    current = await get(order_id)
    values: dict[Any, Any] = {}
    items = clean_items(changes["items"]) if "items" in changes else None
    if items is not None or "shipping" in changes or "discount" in changes:
        sums = totals(items if items is not None else current["items"], changes.get("shipping", current["shipping"]),
                      changes.get("discount", current["discount"]))
        values.update({getattr(Order, k): v for k, v in sums.items()})
    for name in ("delivery_address", "note"):
        if name in changes:
            values[getattr(Order, name)] = _text(changes[name], name, 2000)
    if not values:
        return current
    await _touch(order_id, values)
    if items is not None:
        await OrderItem.delete().where(OrderItem.shop_order == order_id)
        await OrderItem.insert(*[OrderItem(shop_order=order_id, position=i, **it) for i, it in enumerate(items)])
    fields = sorted([c._meta.name for c in values] + (["items"] if items is not None else []))
    await timeline.record(row["contact"], "order", "internal", "Order %(number)s edited: %(fields)s",
                          params={"number": row["number"], "fields": ", ".join(fields)},
                          links={"order_id": order_id}, payload={"event": "edited", "order_id": order_id,
                                                                 "fields": fields}, **_actor_fields(actor))
    await audit.record("order.updated", actor_id=actor.user_id, actor=actor.label, target_type="order",
                       target_id=order_id, detail={"fields": fields})
    await emit(events.ORDER_UPDATED, order_id=order_id, contact_id=row["contact"])
    return await get(order_id)


async def count_for_contact(contact_id: int) -> int:
    return int(await Order.count().where(Order.contact == contact_id))


async def get(order_id: int) -> dict[str, Any]:
    row = await Order.select(*ORDER_COLUMNS).where(Order.id == order_id).first()
    if row is None:
        raise NotFound("No order %(order_id)s.", order_id=order_id)
    return (await _with_details([row]))[0]


async def _with_details(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [r["id"] for r in rows]
    if not ids:
        return []
    items = await OrderItem.select().where(OrderItem.shop_order.is_in(ids)).order_by(OrderItem.position)
    pays = await OrderPayment.select().where(OrderPayment.shop_order.is_in(ids)).order_by(
        OrderPayment.paid_at).order_by(OrderPayment.id)
    hist = await OrderStatusChange.select().where(OrderStatusChange.shop_order.is_in(ids)).order_by(
        OrderStatusChange.id)
    out = []
    for r in rows:
        r = dict(r)
        r["items"] = [i for i in items if i["shop_order"] == r["id"]]
        r["payments"] = [p for p in pays if p["shop_order"] == r["id"]]
        r["history"] = [h for h in hist if h["shop_order"] == r["id"]]
        r["balance"] = r["total"] - (r["paid"] - r["refunded"])
        r["portal_active"] = r.pop("portal_token_hash", None) is not None
        out.append(r)
    return out


async def search(*, contact_id: int | None = None, status: str | None = None, q: str = "",
                 placed_from: dt.datetime | None = None, placed_to: dt.datetime | None = None,
                 limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int | None]:
    limit = min(max(limit, 1), 200)
    query = Order.select(*ORDER_COLUMNS).order_by(Order.placed_at, ascending=False).order_by(
        Order.id, ascending=False).limit(limit + 1).offset(max(offset, 0))
    if contact_id is not None:
        query = query.where(Order.contact == contact_id)
    if status:
        query = query.where(Order.status == status)
    if q.strip():
        query = query.where((Order.number.ilike(f"%{q.strip()}%")) | (Order.external_id == q.strip()))
    if placed_from:
        query = query.where(Order.placed_at >= placed_from)
    if placed_to:
        query = query.where(Order.placed_at < placed_to)
    rows = await query
    more = len(rows) > limit
    return await _with_details(rows[:limit]), (offset + limit if more else None)


async def _move_to_contact(source: int, target: int) -> int:
    """Merge step: the merged-away contact's orders become the survivor's (revenue follows them)."""
    moved = await Order.update({Order.contact: target}).where(Order.contact == source).returning(Order.id)
    return len(moved)


MERGE_STEP = MergeStep("orders", _move_to_contact, tables=("shop_order",))
