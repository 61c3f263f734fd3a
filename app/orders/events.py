"""Order events: on the order's own channel (the portal listens there) and on its contact's card."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class OrderPayload(msgspec.Struct):
    order_id: int
    contact_id: int


class StatusPayload(msgspec.Struct):
    order_id: int
    contact_id: int
    status: str
    """The status key the order moved to."""


def order_and_card(data: dict[str, Any]) -> list[str]:
    # Admins' channel too: the owner's home page counts today's orders and revenue live.
    return [channels.order(data["order_id"]), channels.contact(data["contact_id"]), channels.role("admin")]


ORDER_STATUS_CHANGED = EventType("order.status_changed", "An order moved to another status (order_id, contact_id, "
                                 "status).", StatusPayload, order_and_card)
ORDER_CREATED = EventType("order.created", "An order was created (order_id, contact_id).", OrderPayload,
                          order_and_card)
ORDER_UPDATED = EventType("order.updated", "An order's items, payments, refunds or portal link changed (order_id, "
                          "contact_id).", OrderPayload, order_and_card)


def order_only(data: dict[str, Any]) -> list[str]:
    return [channels.order(data["order_id"])]


ORDER_CALLBACK_MOVED = EventType("order.callback_moved", "The customer's waiting callback moved in its queue, was "
                                 "made or was cancelled: the portal's 'you are number N' line changed (order_id, "
                                 "contact_id).", OrderPayload, order_only)
declare(ORDER_STATUS_CHANGED, ORDER_CREATED, ORDER_UPDATED, ORDER_CALLBACK_MOVED)
