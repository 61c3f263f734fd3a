"""Queue events: every console of the tenant hears them; the operator concerned also on their own channel."""

from __future__ import annotations

from typing import Any

from realtime import channels
from realtime.publish import publish  # the submodule shadows a lazy `from realtime import publish`


async def emit(name: str, row: dict[str, Any], **extra: Any) -> None:
    topics = [channels.queue()]
    if row.get("assigned_to_id"):
        topics.append(channels.user(row["assigned_to_id"]))
    if row.get("contact_id"):
        topics.append(channels.contact(row["contact_id"]))
    data = {"conversation_id": row["id"], "queue_id": row["queue_id"], "contact_id": row.get("contact_id") or 0,
            **extra}
    await publish(name, data, channels=topics)
