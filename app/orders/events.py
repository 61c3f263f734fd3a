"""Order events: published on the order's own channel (the portal listens there) and on its contact's card."""

from __future__ import annotations

from typing import Any

from realtime import channels
from realtime.publish import publish


async def emit(name: str, *, order_id: int, contact_id: int, **ids: Any) -> None:
    """Announce an order change after commit; call it as the last write of the unit of work."""
    await publish(name, {"order_id": order_id, "contact_id": contact_id, **ids},
                  channels=[channels.order(order_id), channels.contact(contact_id)])
