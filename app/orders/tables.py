"""Tenant-schema tables of orders: the pipeline, orders, items, payments/refunds, status history, portal messages."""

from __future__ import annotations

from piccolo.columns import JSONB, Array, BigInt, Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.contacts.tables import Contact

PAYMENT_KINDS = ("payment", "refund")


class OrderStatus(Table, tablename="order_status"):
    """One step of the tenant's pipeline; `allowed` lists the statuses an order may move to from here."""

    id: Serial
    key = Varchar(length=40, unique=True)
    label = Varchar(length=100)
    position = Integer(default=0)
    allowed = Array(base_column=Varchar(length=40), default=list)
    final = Boolean(default=False)
    counts_as_sale = Boolean(default=True)
    """False for cancelled/returned: such orders leave the order count and the average order value."""
    archived = Boolean(default=False)


class Order(Table, tablename="shop_order"):
    """Money is integer minor units of `currency` (cents for USD, yen for JPY); totals are computed here."""

    id: Serial
    contact = ForeignKey(references=Contact, null=False)
    number = Varchar(length=50, unique=True)
    external_id = Varchar(length=100, null=True, default=None, unique=True)
    currency = Varchar(length=3)
    status = Varchar(length=40)
    subtotal = BigInt(default=0)
    shipping = BigInt(default=0)
    discount = BigInt(default=0)
    total = BigInt(default=0)
    paid = BigInt(default=0)
    refunded = BigInt(default=0)
    delivery_address = Text(default="")
    note = Text(default="")
    placed_at = Timestamptz(default=TimestamptzNow())
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    version = Integer(default=1)
    portal_nonce = Varchar(length=32, null=True, default=None)
    portal_token_hash = Varchar(length=64, null=True, default=None, unique=True)
    portal_issued_at = Timestamptz(null=True, default=None)
    portal_revoked_at = Timestamptz(null=True, default=None)


class OrderItem(Table, tablename="order_item"):
    id: Serial
    shop_order = ForeignKey(references=Order, null=False, index=True)
    position = Integer(default=0)
    name = Varchar(length=200)
    sku = Varchar(length=64, default="")
    category = Varchar(length=100, default="")
    """The product's category as the shop names it (empty when unknown)."""
    quantity = Integer()
    unit_price = BigInt()
    line_total = BigInt()


class OrderPayment(Table, tablename="order_payment"):
    """A payment or a refund (kind); `amount` is always positive."""

    id: Serial
    shop_order = ForeignKey(references=Order, null=False, index=True)
    kind = Varchar(length=10)
    amount = BigInt()
    method = Varchar(length=40, default="")
    paid_at = Timestamptz(default=TimestamptzNow())
    external_id = Varchar(length=100, null=True, default=None, unique=True)
    note = Varchar(length=500, default="")
    created_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())


class OrderStatusChange(Table, tablename="order_status_change"):
    id: Serial
    shop_order = ForeignKey(references=Order, null=False)
    from_status = Varchar(length=40, null=True, default=None)
    to_status = Varchar(length=40)
    changed_at = Timestamptz(default=TimestamptzNow())
    actor_label = Varchar(length=254, default="")
    note = Varchar(length=500, default="")


class OrderMessage(Table, tablename="order_message"):
    """A message between the customer (direction in, from the portal) and the shop (out, an operator's reply)."""

    id: Serial
    shop_order = ForeignKey(references=Order, null=False)
    direction = Varchar(length=3)
    body = Text()
    author_label = Varchar(length=254, default="")
    conversation_id = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class OrderNotification(Table, tablename="order_notification"):
    """The tenant's customer email on status changes: Jinja templates rendered in a sandbox. One row per tenant."""

    id: Serial
    enabled = Boolean(default=False)
    statuses = Array(base_column=Varchar(length=40), default=list)
    """Statuses that trigger the email; empty: every status change."""
    subject = Varchar(length=300, default="Your order {{ order.number }} is {{ status }}")  # notify.DEFAULT_SUBJECT
    body = Text(default="")


class OrderImport(Table, tablename="order_import"):
    """A CSV of orders (1C-style exports): the file in storage, the column mapping, progress and refused rows.
    Rows sharing an external id are the items of one order; `processed` counts rows of the orders done so far."""

    id: Serial
    filename = Varchar(length=255)
    storage_key = Varchar(length=300)
    encoding = Varchar(length=20, default="utf-8")
    delimiter = Varchar(length=2, default=",")
    mapping = JSONB(default={})
    status = Varchar(length=20, default="uploaded")  # uploaded | queued | running | done | failed
    total = Integer(default=0)
    """Data rows in the file."""
    processed = Integer(default=0)
    orders_total = Integer(default=0)
    orders_done = Integer(default=0)
    """Orders (groups of rows) handled so far, in file order: where a retried job resumes."""
    created = Integer(default=0)
    updated = Integer(default=0)
    unchanged = Integer(default=0)
    failed = Integer(default=0)
    """Orders refused; their rows are listed in `errors` with the reason."""
    errors = JSONB(default=[])
    created_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)
