"""The customer portal: per-order links (256-bit tokens, only their hash stored, revocable), what the page shows,
and the customer's messages to the shop and the shop's replies.

A token is HMAC(secret key, tenant, order, nonce): the shop can show or email the link again without the database
ever holding it, and reissuing (a new nonce) or revoking (no hash) kills every earlier link at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from app.accounts.services import Principal
from app.audit import services as audit
from app.contacts import services as contacts
from app.conversations import services as conversations
from app.conversations.message_events import MESSAGE_RECEIVED, MESSAGE_SENT
from app.conversations.tables import OPEN_STATUSES, Conversation
from app.lib import i18n
from app.lib.clock import now
from app.lib.db import current_tenant
from app.lib.errors import NotFound
from app.lib.forms import message_text
from app.lib.ratelimit import Limiter
from app.lib.security import constant_time_equals, token_hash
from app.orders import callbacks, pipeline, services
from app.orders.tables import Order, OrderMessage
from app.settings import get_settings
from app.timeline import services as timeline
from realtime import channels
from realtime.publish import emit

MAX_MESSAGE = 2000
TOKEN_RE_LEN = (40, 64)


def derive_token(slug: str, order_id: int, nonce: str) -> str:
    key = get_settings().app.secret_key.encode()
    digest = hmac.new(key, f"portal:{slug}:{order_id}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")  # 256 bits, 43 characters


def url_for(slug: str, token: str) -> str:
    return f"{get_settings().app.base_url}/t/{slug}/portal/{token}"


async def issue(actor: Principal, order_id: int) -> dict[str, Any]:
    """A new portal link for the order; any earlier link stops working."""
    row = await services.lock(order_id)
    nonce = secrets.token_hex(16)
    token = derive_token(current_tenant().slug, order_id, nonce)
    t = now()
    await Order.update({Order.portal_nonce: nonce, Order.portal_token_hash: token_hash(token),
                        Order.portal_issued_at: t, Order.portal_revoked_at: None}).where(Order.id == order_id)
    await audit.record("order.portal_issued", actor_id=actor.user_id, actor=actor.label, target_type="order",
                       target_id=order_id, detail={"number": row["number"]})
    return {"url": url_for(current_tenant().slug, token), "issued_at": t}


async def issue_for_system(order_id: int) -> dict[str, Any]:
    """A first link issued by the platform itself (the status email), audited as such."""
    nonce = secrets.token_hex(16)
    token = derive_token(current_tenant().slug, order_id, nonce)
    t = now()
    await Order.update({Order.portal_nonce: nonce, Order.portal_token_hash: token_hash(token),
                        Order.portal_issued_at: t}).where(Order.id == order_id)
    await audit.record("order.portal_issued", actor="system", target_type="order", target_id=order_id)
    return {"url": url_for(current_tenant().slug, token), "issued_at": t}


async def current_link(order_id: int) -> dict[str, Any] | None:
    row = await Order.select(Order.portal_nonce, Order.portal_token_hash, Order.portal_issued_at).where(
        Order.id == order_id).first()
    if row is None:
        raise NotFound("No order %(order_id)s.", order_id=order_id)
    if row["portal_token_hash"] is None or not row["portal_nonce"]:
        return None
    token = derive_token(current_tenant().slug, order_id, row["portal_nonce"])
    return {"url": url_for(current_tenant().slug, token), "issued_at": row["portal_issued_at"]}


async def revoke(actor: Principal, order_id: int) -> None:
    row = await services.lock(order_id)
    await Order.update({Order.portal_nonce: None, Order.portal_token_hash: None,
                        Order.portal_revoked_at: now()}).where(Order.id == order_id)
    await audit.record("order.portal_revoked", actor_id=actor.user_id, actor=actor.label, target_type="order",
                       target_id=order_id, detail={"number": row["number"]})


async def resolve(token: str) -> int:
    """The order id behind a portal token of the current tenant; the same 404 for unknown, revoked or malformed."""
    if not isinstance(token, str) or not TOKEN_RE_LEN[0] <= len(token) <= TOKEN_RE_LEN[1]:
        raise NotFound("This link is not valid. Ask the shop for a new one.")
    wanted = token_hash(token)
    row = await Order.select(Order.id, Order.portal_token_hash).where(Order.portal_token_hash == wanted).first()
    if row is None or not constant_time_equals(row["portal_token_hash"] or "", wanted):
        raise NotFound("This link is not valid. Ask the shop for a new one.")
    return int(row["id"])


async def view(order_id: int) -> dict[str, Any]:
    """Everything the portal page shows, and nothing else: this one order, its history, its messages."""
    order = await services.get(order_id)
    language = await contacts.language_of(order["contact_id"])
    with i18n.viewing(language or None):  # the contact's language ("": the browser's), as the page is rendered in
        labels = await pipeline.names()
        path = [s for s in await pipeline.statuses() if s["counts_as_sale"]]
    reached = {h["to_status"] for h in order["history"]}
    return {"order": order, "language": language, "labels": labels,
            "time_zone": await contacts.zone_of(order["contact_id"]),
            "status_label": labels.get(order["status"], order["status"]),
            "steps": [{"key": s["key"], "label": s["name"], "done": s["key"] in reached,
                       "current": s["key"] == order["status"]} for s in path],
            "messages": await messages(order_id), "callback": await callbacks.line(order["contact_id"])}


async def messages(order_id: int) -> list[dict[str, Any]]:
    return await OrderMessage.select(
        OrderMessage.id, OrderMessage.direction, OrderMessage.body, OrderMessage.author_label,
        OrderMessage.created_at, OrderMessage.conversation_id).where(OrderMessage.shop_order == order_id).order_by(
        OrderMessage.id)


def _body(body: Any) -> str:
    return message_text(body, MAX_MESSAGE)


async def customer_message(order_id: int, body: str) -> dict[str, Any]:
    """From the portal: lands on the contact's timeline (channel chat, in) and in the console queue."""
    text = _body(body)
    row = await services.lock(order_id)
    ref = f"order:{order_id}"
    open_conv = await Conversation.select(Conversation.id).where(
        (Conversation.external_ref == ref) & Conversation.status.is_in(list(OPEN_STATUSES))).order_by(
        Conversation.id, ascending=False).first()
    summary = f"Order {row['number']} · customer: {text[:200]}"
    if open_conv is None:
        # open_conversation records the message on the timeline (chat, in) and puts it in the General queue.
        conv = await conversations.open_conversation(channel="chat", contact_id=row["contact"], subject=summary[:300],
                                                     from_address="order portal", external_ref=ref)
        conversation_id = int(conv["id"])
    else:
        conversation_id = int(open_conv["id"])
        await conversations.customer_wrote(conversation_id)  # a snoozed conversation wakes up
        await timeline.record(row["contact"], "chat", "in", "Order %(number)s · customer: %(text)s",
                              params={"number": row["number"], "text": text[:200]}, actor_type="customer",
                              links={"order_id": order_id, "conversation_id": conversation_id},
                              payload={"event": "portal_message", "order_id": order_id, "body": text})
    rows = await OrderMessage.insert(OrderMessage(shop_order=order_id, direction="in", body=text,
                                                  author_label="Customer", conversation_id=conversation_id)
                                     ).returning(OrderMessage.id)
    await emit(MESSAGE_RECEIVED, message_id=rows[0]["id"], order_id=order_id, contact_id=row["contact"],
               conversation_id=conversation_id,
               channels=[channels.order(order_id), channels.contact(row["contact"]), channels.queue()])
    return {"id": rows[0]["id"], "conversation_id": conversation_id}


async def reply(actor: Principal, order_id: int, body: str) -> dict[str, Any]:
    """The shop's answer: on the timeline (chat, out) and, live, on the customer's portal page."""
    text = _body(body)
    row = await services.lock(order_id)
    conv = await Conversation.select(Conversation.id).where(Conversation.external_ref == f"order:{order_id}").order_by(
        Conversation.id, ascending=False).first()
    conversation_id = conv["id"] if conv else None
    rows = await OrderMessage.insert(OrderMessage(shop_order=order_id, direction="out", body=text,
                                                  author_label=actor.name or "The shop",
                                                  conversation_id=conversation_id)).returning(OrderMessage.id)
    await timeline.record(row["contact"], "chat", "out", "Order %(number)s · reply: %(text)s",
                          params={"number": row["number"], "text": text[:200]},
                          actor_type="user", actor_id=actor.user_id, actor_label=actor.label,
                          links={"order_id": order_id, **({"conversation_id": conversation_id} if conversation_id
                                                          else {})},
                          payload={"event": "portal_reply", "order_id": order_id, "body": text})
    await audit.record("order.message_sent", actor_id=actor.user_id, actor=actor.label, target_type="order",
                       target_id=order_id)
    await emit(MESSAGE_SENT, message_id=rows[0]["id"], order_id=order_id, contact_id=row["contact"],
               channels=[channels.order(order_id), channels.contact(row["contact"])])
    return (await OrderMessage.select().where(OrderMessage.id == rows[0]["id"]).first()) or {}


PAGE_LIMIT = Limiter(120, 60.0, name="portal-pages")
MESSAGE_LIMIT = Limiter(10, 60.0, name="portal-messages")
