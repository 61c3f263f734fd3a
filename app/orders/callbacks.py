"""The portal's callback line: "we will call you back, you are number N" while the customer's callback waits in a
queue (telephony.callbacks), kept live.

A queue change (an item added, taken, removed, moved; a callback asked or cancelled) can move every waiting callback
up or make one disappear; the durable listener below tells the open orders of those customers
(`order.callback_moved` on `tenant:{slug}:order:{id}`, the one channel a portal page listens to), and the portal
socket re-renders the page, line included, from the database."""

from __future__ import annotations

from typing import Any

from app.lib.db import current_uow
from app.orders import events as order_events
from realtime.events import Event
from realtime.publish import emit
from telephony import callbacks

QUEUE_EVENTS = frozenset({"queue.item_added", "queue.item_taken", "queue.item_removed", "conversation.assigned",
                          "conversation.closed", "conversation.reopened", "conversation.snoozed",
                          "conversation.merged", "call.callback_requested", "call.callback_cancelled"})


async def line(contact_id: int | None) -> dict[str, Any] | None:
    """What the portal shows for the order's customer: their waiting callback's place, or None."""
    if contact_id is None:
        return None
    return await callbacks.waiting_for(contact_id)


async def _open_orders(contact_ids: list[int]) -> list[dict[str, Any]]:
    if not contact_ids:
        return []
    rows = await current_uow().connection.fetch(
        "SELECT o.id, o.contact FROM shop_order o LEFT JOIN order_status s ON s.key = o.status "
        "WHERE o.contact = ANY($1::int[]) AND NOT coalesce(s.final, false) ORDER BY o.id", contact_ids)
    return [dict(r) for r in rows]


async def on_queue_changed(event: Event) -> None:
    """Durable listener: the customers whose callback may have moved (every waiting one, few by nature, and the one
    the event is about: theirs may just have been taken or cancelled) hear it on their open orders' channels."""
    contacts = set(await callbacks.waiting_contacts())
    if event.data.get("contact_id"):
        contacts.add(int(event.data["contact_id"]))
    for order in await _open_orders(sorted(contacts)):
        await emit(order_events.ORDER_CALLBACK_MOVED, order_id=order["id"], contact_id=order["contact"])
