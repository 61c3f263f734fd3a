"""Contact events: published in the unit of work that made the change, sent to watchers after commit."""

from __future__ import annotations

from typing import Any

from realtime import channels
from realtime.publish import publish  # the submodule shadows a lazy `from realtime import publish`


async def emit(name: str, *, contact_id: int, **ids: Any) -> None:
    """Tell everyone watching the contact's card (and the tenant's consoles for list-level changes)."""
    topics = [channels.contact(contact_id)]
    if name in ("contact.created", "contact.deleted", "contact.merged"):
        topics.append(channels.queue())
    await publish(name, {"contact_id": contact_id, **ids}, channels=topics)
