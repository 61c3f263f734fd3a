"""Wire shapes of the orders API. Money fields are integers of minor units: msgspec refuses a float by name."""

from __future__ import annotations

import datetime as dt

import msgspec

from app.lib.wire import DbInt, Id, Money, Patch


class ItemIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    quantity: DbInt
    unit_price: Money
    """Minor units of the order's currency (1999 = 19.99 USD)."""
    sku: str = ""
    category: str = ""
    """The product's category as the shop names it ("Coffee"); upsell pairs categories as well as products."""


class CustomerIn(msgspec.Struct, forbid_unknown_fields=True):
    """Who ordered, when the shop does not know our contact id: found by email, then phone, else created."""

    name: str = ""
    email: str | None = None
    phone: str | None = None


class PaymentIn(msgspec.Struct, forbid_unknown_fields=True):
    amount: Money
    method: str = ""
    paid_at: dt.datetime | None = None
    external_id: str | None = None
    """The payment provider's id: sending the same one twice records one payment."""
    note: str = ""


class OrderIn(msgspec.Struct, forbid_unknown_fields=True):
    items: list[ItemIn]
    currency: str = ""
    """ISO 4217 code; empty or left out: the workspace's currency."""
    external_id: str | None = None
    """The shop's own order id: the idempotency key (the same one twice gives the same order, 200)."""
    contact_id: Id | None = None
    customer: CustomerIn | None = None
    number: str | None = None
    status: str | None = None
    shipping: Money = 0
    discount: Money = 0
    delivery_address: str = ""
    note: str = ""
    placed_at: dt.datetime | None = None
    payments: list[PaymentIn] = []


class OrderPatch(Patch, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields present change; `version`, when sent, must match (optimistic concurrency)."""

    items: list[ItemIn] | msgspec.UnsetType = msgspec.UNSET
    shipping: Money | msgspec.UnsetType = msgspec.UNSET
    discount: Money | msgspec.UnsetType = msgspec.UNSET
    delivery_address: str | msgspec.UnsetType = msgspec.UNSET
    note: str | msgspec.UnsetType = msgspec.UNSET
    version: DbInt | msgspec.UnsetType = msgspec.UNSET


class StatusIn(msgspec.Struct, forbid_unknown_fields=True):
    status: str
    note: str = ""
    version: DbInt | None = None


class MessageIn(msgspec.Struct, forbid_unknown_fields=True):
    body: str


class PortalSendIn(msgspec.Struct, forbid_unknown_fields=True):
    channel: str = "email"
    to: str | None = None
    """Defaults to the contact's first email (or phone for sms)."""


class ItemOut(msgspec.Struct):
    name: str
    sku: str
    quantity: int
    unit_price: int
    line_total: int
    category: str = ""


class PaymentOut(msgspec.Struct):
    id: int
    kind: str
    amount: int
    method: str
    paid_at: dt.datetime
    external_id: str | None
    note: str


class StatusChangeOut(msgspec.Struct):
    from_status: str | None
    to_status: str
    changed_at: dt.datetime
    actor_label: str
    note: str


class OrderOut(msgspec.Struct):
    id: int
    contact_id: int
    number: str
    external_id: str | None
    currency: str
    status: str
    subtotal: int
    shipping: int
    discount: int
    total: int
    paid: int
    refunded: int
    balance: int
    """total - (paid - refunded): what the customer still owes (negative: owed back)."""
    delivery_address: str
    note: str
    placed_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    items: list[ItemOut]
    payments: list[PaymentOut]
    history: list[StatusChangeOut]
    portal_active: bool


class OrderList(msgspec.Struct):
    items: list[OrderOut]
    next: str | None = None


class PortalOut(msgspec.Struct):
    url: str
    issued_at: dt.datetime


class MessageOut(msgspec.Struct):
    id: int
    direction: str
    body: str
    author_label: str
    created_at: dt.datetime
    conversation_id: int | None


class StatusDefIn(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    label: str
    allowed: list[str] = []
    position: DbInt | None = None
    final: bool = False
    counts_as_sale: bool = True


class StatusDefPatch(Patch, forbid_unknown_fields=True, omit_defaults=True):
    label: str | msgspec.UnsetType = msgspec.UNSET
    allowed: list[str] | msgspec.UnsetType = msgspec.UNSET
    position: DbInt | msgspec.UnsetType = msgspec.UNSET
    final: bool | msgspec.UnsetType = msgspec.UNSET
    counts_as_sale: bool | msgspec.UnsetType = msgspec.UNSET
    archived: bool | msgspec.UnsetType = msgspec.UNSET


class StatusDefOut(msgspec.Struct):
    key: str
    label: str
    position: int
    allowed: list[str]
    final: bool
    counts_as_sale: bool
    archived: bool


class RevenueOut(msgspec.Struct):
    currency: str
    revenue: int
    """Payments minus refunds, minor units."""
    orders: int
    average_order_value: int
    last_purchase_at: dt.datetime | None


class NotificationIn(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool
    subject: str
    body: str = ""
    statuses: list[str] = []


class NotificationOut(msgspec.Struct):
    enabled: bool
    subject: str
    body: str
    statuses: list[str]
