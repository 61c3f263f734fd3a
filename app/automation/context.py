"""The records a rule's conditions and actions read: loaded for an event (from the ids its payload carries) or for
a record an admin picks ("test against a record"). Each entity is a flat dict the condition fields name."""

from __future__ import annotations

from typing import Any

from app import channels
from app.contacts import services as contacts
from app.conversations import services as conversations
from app.hours import services as hours
from app.lib.clock import now
from app.lib.db import current_uow
from app.lib.errors import NotFound
from app.orders import services as orders
from app.segments import services as segments
from app.tasks import services as tasks
from realtime.events import Event

IDS = ("contact_id", "conversation_id", "order_id", "message_id", "task_id", "interaction_id")


def ids_of(event: Event) -> dict[str, Any]:
    data = event.data
    return {k: data.get(k) for k in (*IDS, "channel", "status")}


async def load(ids: dict[str, Any], *, event_name: str = "") -> dict[str, Any]:
    """Every record the ids reach: a message brings its conversation, a conversation or an order its contact."""
    conn = current_uow().connection
    ctx: dict[str, Any] = {"event": {"name": event_name, "status": ids.get("status")}, "ids": dict(ids)}
    message = await _message(ids) if ids.get("message_id") else None
    if message:
        ctx["message"] = message
        if not ids.get("conversation_id"):
            ids["conversation_id"] = message.get("conversation_id")
    if ids.get("interaction_id"):
        row = await conn.fetchrow("SELECT id, channel, direction, summary, payload->>'outcome' AS outcome, "
                                  "links->>'conversation_id' AS conversation_id FROM interaction WHERE id = $1",
                                  ids["interaction_id"])
        if row is not None:
            ctx["interaction"] = dict(row)
            if not ids.get("conversation_id") and row["conversation_id"]:
                ids["conversation_id"] = int(row["conversation_id"])
    if ids.get("task_id"):
        try:
            task = await tasks.get(int(ids["task_id"]))
        except NotFound:
            task = None
        if task is not None:
            ctx["task"] = task
            for key in ("contact_id", "conversation_id", "order_id"):
                if task.get(key) and not ids.get(key):
                    ids[key] = task[key]
    if ids.get("conversation_id"):
        try:
            conv = await conversations.get(int(ids["conversation_id"]))
        except NotFound:
            conv = None
        if conv is not None:
            conv["queue"] = conv.get("queue_key")
            last = await conn.fetchval(
                "SELECT direction FROM interaction WHERE contact = $1 AND links->>'conversation_id' = $2 "
                "AND direction IN ('in', 'out') ORDER BY id DESC LIMIT 1", conv["contact_id"], str(conv["id"]))
            conv["awaiting_reply"] = "yes" if last == "in" else "no"
            calendar = await hours.hours_for_queue(int(conv["queue_id"]))  # None: open around the clock
            conv["inside_hours"] = "yes" if calendar is None or calendar.is_open(now()) else "no"
            ctx["conversation"] = conv
            if not ids.get("contact_id"):
                ids["contact_id"] = conv["contact_id"]
    if ids.get("order_id"):
        try:
            order = await orders.get(int(ids["order_id"]))
        except NotFound:
            order = None
        if order is not None:
            ctx["order"] = order
            if not ids.get("contact_id"):
                ids["contact_id"] = order["contact_id"]
    if ids.get("contact_id"):
        try:
            card = await contacts.get(int(ids["contact_id"]))
        except NotFound:
            card = None
        if card is not None:
            card["tags"] = list(card.get("tags") or [])
            # The segment fields (order aggregates, RFM, consent, last channel, segments): one tree, one meaning.
            card.update(await segments.values_for(card["id"]))
            ctx["contact"] = card
    ctx["ids"] = dict(ids)
    return ctx


async def _message(ids: dict[str, Any]) -> dict[str, Any] | None:
    conn = current_uow().connection
    channel = ids.get("channel")
    if channel == "sms":
        row = await conn.fetchrow("SELECT id, direction, body, conversation AS conversation_id, from_number, "
                                  "contact, created_at FROM sms_message WHERE id = $1", ids["message_id"])
    elif channel == "email":
        row = await conn.fetchrow("SELECT id, direction, subject || E'\\n' || text AS body, "
                                  "conversation AS conversation_id, from_address, contact, created_at "
                                  "FROM email_message WHERE id = $1", ids["message_id"])
    elif ids.get("order_id"):
        channel = "portal"
        row = await conn.fetchrow("SELECT id, direction, body, conversation_id, created_at FROM order_message "
                                  "WHERE id = $1", ids["message_id"])
    else:
        return None
    if row is None:
        return None
    message = {**dict(row), "channel": channel}
    if ids.get("contact_id") and message["direction"] in ("in", "out"):
        # Answered: the other side wrote after this message (on any conversation channel).
        later = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM interaction WHERE contact = $1 AND direction = $2 AND occurred_at > $3 "
            "AND channel = ANY($4::varchar[]))", ids["contact_id"],
            "out" if message["direction"] == "in" else "in", message["created_at"], list(channels.KEYS))
        message["answered"] = "yes" if later else "no"
    return message


async def for_record(kind: str, record_id: int) -> dict[str, Any]:
    """What a rule would read for a record an admin picked: a contact, a conversation or an order (404 if none)."""
    if kind == "contact":
        await contacts.get(record_id)
    elif kind == "conversation":
        await conversations.get(record_id)
    elif kind == "order":
        await orders.get(record_id)
    else:
        raise NotFound("Unknown kind of record %(kind)s.", kind=kind)
    return await load({f"{kind}_id": record_id}, event_name="")
