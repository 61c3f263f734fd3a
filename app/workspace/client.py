"""The right pane: the client behind a conversation (card, value, open orders, deals, duplicates), and the one-step
answer to an unknown sender: create the contact, or link the conversation to one that exists."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal
from app.audit import services as audit
from app.contacts import duplicates, fields, merge
from app.contacts import fields_spec as spec
from app.contacts import services as contacts
from app.contacts.queries import ContactFilter
from app.contacts.tables import TEMPERATURES
from app.conversations import events as conversation_events
from app.conversations import services as conversations
from app.conversations.tables import Conversation
from app.deals import services as deals
from app.lib.errors import Invalid, NotFound
from app.orders import pipeline, revenue
from app.orders import services as orders
from app.timeline import services as timeline
from app.workspace import services
from realtime.publish import emit

RECENT = 8
"""Items of the recent timeline in the right pane."""


async def context(row: dict[str, Any]) -> dict[str, Any]:
    """Everything the right pane shows for the conversation `row` (reloaded on every render)."""
    card = await contacts.get(row["contact_id"]) if row["contact_id"] else None
    ctx: dict[str, Any] = {"c": card, "unknown": services.is_unknown(card), "fields": await fields.definitions(),
                           "card_fields": spec.CARD, "temperatures": TEMPERATURES}
    if card is None:
        return {**ctx, "orders": [], "revenue": [], "deals": [], "duplicates": [], "items": [], "next": None,
                "labels": {}}
    statuses = await pipeline.by_key()
    recent, _ = await orders.search(contact_id=card["id"], limit=10)
    open_orders = [o for o in recent if not statuses.get(o["status"], {}).get("final")][:5]
    board = await deals.board(card["id"])
    open_deals = [{**d, "stage_label": s["label"]} for s in board if s["kind"] == "open" for d in s["deals"]]
    items, nxt = await timeline.page(card["id"], limit=RECENT)
    return {**ctx, "orders": open_orders, "revenue": await revenue.for_contact(card["id"]), "deals": open_deals,
            "duplicates": await duplicates.for_contact(card["id"], limit=3), "items": items, "next": nxt,
            "labels": {k: s["label"] for k, s in statuses.items()}}


async def order_of(row: dict[str, Any], order_id: int) -> dict[str, Any]:
    """One of the conversation's client's orders (NotFound for anyone else's)."""
    order = await orders.get(order_id)
    if not row["contact_id"] or order["contact_id"] != row["contact_id"]:
        raise NotFound("No order %(order_id)s.", order_id=order_id)
    return order


async def search(q: str) -> list[dict[str, Any]]:
    """Contacts matching `q` in any field (name, company, phone, email, tags): the link-to-existing picker."""
    q = (q or "").strip()
    if len(q) < 2:
        return []
    rows, _ = await contacts.search(ContactFilter(q=q[:100]), limit=8)
    return rows


async def suggestions(row: dict[str, Any]) -> list[dict[str, Any]]:
    """Contacts that look like the sender (same phone or email, similar name): the merge suggestion."""
    if not row["contact_id"]:
        return await search(row["from_address"]) if row["from_address"] else []
    return [d["contact"] for d in await duplicates.for_contact(row["contact_id"], limit=5)]


async def link(actor: Principal, conversation_id: int, contact_id: int) -> dict[str, Any]:
    """This conversation's sender is `contact_id`. A sender's own placeholder contact (made from the address
    alone) is merged into it, so its messages, calls and orders join the client's history."""
    row = await services.conversation_for(actor, conversation_id)
    target = await contacts.get(contact_id)
    current = row["contact_id"]
    if current == target["id"]:
        return row
    if current is not None:
        placeholder = await contacts.get(current)
        if not services.is_unknown(placeholder):
            raise Invalid("This conversation already belongs to a named contact; merge the two cards instead.",
                          field="contact_id")
        await merge.merge(actor, target["id"], current)
    else:
        await Conversation.update({Conversation.contact: target["id"]}).where(Conversation.id == conversation_id)
    await audit.record("conversation.linked", actor_id=actor.user_id, actor=actor.label, target_type="conversation",
                       target_id=conversation_id, detail={"contact_id": target["id"]})
    updated = await conversations.get(conversation_id)
    await emit(conversation_events.QUEUE_ITEM_TAKEN if updated["assigned_to_id"]
               else conversation_events.QUEUE_ITEM_ADDED, **conversation_events.about(updated))
    return updated


async def create(actor: Principal, conversation_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """Name the unknown sender: fill in their placeholder contact, or create one with the sender's address."""
    row = await services.conversation_for(actor, conversation_id)
    name = str(values.get("name") or "").strip()
    if not name:
        raise Invalid("Give the client's name.", field="name")
    clean = {"name": name}
    for key in ("company",):
        if values.get(key):
            clean[key] = str(values[key])
    if row["contact_id"] is not None:
        card = await contacts.get(row["contact_id"])
        if not services.is_unknown(card):
            raise Invalid("This conversation already belongs to a named contact.", field="name")
        extra: dict[str, Any] = {}
        if values.get("email") and str(values["email"]).strip() not in card["emails"]:
            extra["emails"] = [*card["emails"], str(values["email"]).strip()]
        if values.get("phone") and str(values["phone"]).strip() not in card["phones"]:
            extra["phones"] = [*card["phones"], str(values["phone"]).strip()]
        await contacts.update(actor, card["id"], {**clean, **extra})
        return await conversations.get(conversation_id)
    address = row["from_address"] or ""
    phones = [str(values.get("phone") or "").strip() or (address if address.startswith("+") else "")]
    emails = [str(values.get("email") or "").strip() or (address if "@" in address else "")]
    card = await contacts.create(actor, {**clean, "phones": [p for p in phones if p],
                                         "emails": [e for e in emails if e]})
    return await link(actor, conversation_id, card["id"])
