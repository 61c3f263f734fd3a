"""Orders JSON API under /t/{slug}/api/v1: orders (idempotent on external_id), status, payments, refunds,
portal links, messages, revenue per contact, and the admin's pipeline."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts import services as contacts
from app.contacts.services import to_struct
from app.lib import jobs
from app.lib.db import current_tenant
from app.lib.errors import Invalid, NotFound
from app.lib.identities import normalize_email
from app.lib.wire import PathId, QueryId, QueryInt
from app.orders import notify, pipeline, portal, revenue, services
from app.orders.schemas import (
    ItemOut,
    MessageIn,
    MessageOut,
    NotificationIn,
    NotificationOut,
    OrderIn,
    OrderList,
    OrderOut,
    OrderPatch,
    PaymentIn,
    PaymentOut,
    PortalOut,
    PortalSendIn,
    RevenueOut,
    StatusChangeOut,
    StatusDefIn,
    StatusDefOut,
    StatusDefPatch,
    StatusIn,
)
from telephony import config as twilio_config

Req = Request[Principal, Any, Any]


def order_out(row: dict[str, Any]) -> OrderOut:
    return OrderOut(**{k: v for k, v in row.items() if k in OrderOut.__struct_fields__
                       and k not in ("items", "payments", "history")},
                    items=[to_struct(ItemOut, i) for i in row["items"]],
                    payments=[to_struct(PaymentOut, p) for p in row["payments"]],
                    history=[to_struct(StatusChangeOut, h) for h in row["history"]])


class OrdersApi(Controller):
    path = "/api/v1"
    tags = ["orders"]
    guards = [signed_in]

    @post("/orders", summary="Create an order; the same external_id again returns that order (200)")
    async def create(self, request: Req, data: JSONBody[OrderIn]) -> Response[OrderOut]:
        row, created = await services.create(request.user, data)
        return Response(order_out(row), status_code=201 if created else 200)

    @get("/orders", summary="Orders, newest first, filtered by contact, status, number or dates")
    async def list_orders(self, contact_id: QueryId = None, status: FromQuery[str | None] = None,
                          q: FromQuery[str] = "", placed_from: FromQuery[dt.datetime | None] = None,
                          placed_to: FromQuery[dt.datetime | None] = None, cursor: QueryInt = 0,
                          limit: QueryInt = 50) -> OrderList:
        rows, nxt = await services.search(contact_id=contact_id, status=status, q=q, placed_from=placed_from,
                                          placed_to=placed_to, limit=limit, offset=cursor)
        return OrderList(items=[order_out(r) for r in rows], next=str(nxt) if nxt is not None else None)

    @get("/orders/{order_id:int}")
    async def read(self, order_id: PathId) -> OrderOut:
        return order_out(await services.get(order_id))

    @patch("/orders/{order_id:int}", summary="Edit items, shipping, discount, address, note; totals recomputed")
    async def update(self, request: Req, order_id: PathId, data: JSONBody[OrderPatch]) -> OrderOut:
        version = data.version if isinstance(data.version, int) else None
        return order_out(await services.update(request.user, order_id, data.changes(), version=version))

    @post("/orders/{order_id:int}/status", status_code=200, summary="Move the order along the pipeline")
    async def status(self, request: Req, order_id: PathId, data: JSONBody[StatusIn]) -> OrderOut:
        return order_out(await services.change_status(request.user, order_id, data.status, note=data.note,
                                                      version=data.version))

    @post("/orders/{order_id:int}/payments", status_code=200, summary="Record a payment (idempotent on external_id)")
    async def payment(self, request: Req, order_id: PathId, data: JSONBody[PaymentIn]) -> OrderOut:
        return order_out(await services.add_payment(request.user, order_id, data))

    @post("/orders/{order_id:int}/refunds", status_code=200, summary="Record a refund (at most what was paid)")
    async def refund(self, request: Req, order_id: PathId, data: JSONBody[PaymentIn]) -> OrderOut:
        return order_out(await services.add_refund(request.user, order_id, data))

    @get("/orders/{order_id:int}/portal", summary="The order's current portal link (404 when none is active)")
    async def portal_link(self, order_id: PathId) -> PortalOut:
        link = await portal.current_link(order_id)
        if link is None:
            raise NotFound("This order has no active portal link; issue one with POST.")
        return PortalOut(**link)

    @post("/orders/{order_id:int}/portal", summary="Issue a new portal link (earlier links stop working)")
    async def issue_portal(self, request: Req, order_id: PathId) -> PortalOut:
        return PortalOut(**await portal.issue(request.user, order_id))

    @delete("/orders/{order_id:int}/portal", summary="Revoke the portal link")
    async def revoke_portal(self, request: Req, order_id: PathId) -> None:
        await portal.revoke(request.user, order_id)

    @post("/orders/{order_id:int}/portal/send", status_code=202, summary="Send the portal link to the customer")
    async def send_portal(self, request: Req, order_id: PathId, data: JSONBody[PortalSendIn]) -> dict[str, Any]:
        return await send_portal_link(request.user, order_id, data.channel, data.to)

    @get("/orders/{order_id:int}/messages", summary="Messages between the customer (portal) and the shop")
    async def messages(self, order_id: PathId) -> list[MessageOut]:
        await services.get(order_id)
        return [to_struct(MessageOut, m) for m in await portal.messages(order_id)]

    @post("/orders/{order_id:int}/messages", summary="Reply to the customer; it appears on their portal page")
    async def reply(self, request: Req, order_id: PathId, data: JSONBody[MessageIn]) -> MessageOut:
        return to_struct(MessageOut, await portal.reply(request.user, order_id, data.body))

    @get("/contacts/{contact_id:int}/revenue", summary="Revenue, order count, average order value per currency")
    async def contact_revenue(self, contact_id: PathId) -> list[RevenueOut]:
        await contacts.get(contact_id)
        return [to_struct(RevenueOut, r) for r in await revenue.for_contact(contact_id)]

    @get("/order-statuses", summary="The order pipeline, in order")
    async def statuses(self, include_archived: FromQuery[bool] = False) -> list[StatusDefOut]:
        return [to_struct(StatusDefOut, s) for s in await pipeline.statuses(include_archived)]

    @post("/order-statuses", guards=[requires("admin")], summary="Add a status to the pipeline")
    async def create_status(self, request: Req, data: JSONBody[StatusDefIn]) -> StatusDefOut:
        return to_struct(StatusDefOut, await pipeline.create(
            request.user, key=data.key, label=data.label, allowed=data.allowed, position=data.position,
            final=data.final, counts_as_sale=data.counts_as_sale))

    @patch("/order-statuses/{key:str}", guards=[requires("admin")], summary="Change a status or its transitions")
    async def update_status(self, request: Req, key: FromPath[str], data: JSONBody[StatusDefPatch]) -> StatusDefOut:
        return to_struct(StatusDefOut, await pipeline.update(request.user, key, data.changes()))

    @get("/order-notifications", guards=[requires("admin")], summary="The customer email on status changes")
    async def notifications(self) -> NotificationOut:
        return to_struct(NotificationOut, await notify.settings())

    @put("/order-notifications", guards=[requires("admin")],
         summary="Set the status email: Jinja templates with order.number, status, portal_url (sandboxed)")
    async def configure_notifications(self, request: Req, data: JSONBody[NotificationIn]) -> NotificationOut:
        return to_struct(NotificationOut, await notify.configure(request.user, enabled=data.enabled,
                                                                 statuses=data.statuses, subject=data.subject,
                                                                 body=data.body))


async def send_portal_link(actor: Principal, order_id: int, channel: str, to: str | None) -> dict[str, Any]:
    """Queue the email or SMS with the order's portal link, issuing one if needed."""
    order = await services.get(order_id)
    if channel not in ("email", "sms"):
        raise Invalid("channel must be email or sms.", field="channel")
    card = await contacts.get(order["contact_id"])
    if channel == "sms":
        return await _queue_portal_sms(actor, order_id, card, to)
    address = normalize_email(to, field="to") if to else (card["emails"][0] if card["emails"] else None)
    if not address:
        raise Invalid("This contact has no email address; enter one.", field="to")
    if await portal.current_link(order_id) is None:
        await portal.issue(actor, order_id)
    await jobs.enqueue("orders.send_portal_link", {"order_id": order_id, "to": address, "by": actor.label})
    return {"queued": True, "channel": channel, "to": address}



async def _queue_portal_sms(actor: Principal, order_id: int, card: dict[str, Any], to: str | None) -> dict[str, Any]:
    """The SMS goes out through the tenant's own Twilio account: without one, a 400 saying what to set up."""

    twilio = await twilio_config.load()
    if twilio is None or not twilio.numbers:
        raise Invalid("Sending by SMS needs Twilio: an admin connects the shop's Twilio account (Account SID, Auth "
                      "Token and a phone number that can send SMS) in Settings → Twilio (/t/%(slug)s/settings/twilio) "
                      "first.", field="channel", slug=current_tenant().slug)
    number = await contacts.number_to_reach(card, to, field="to")
    if await portal.current_link(order_id) is None:
        await portal.issue(actor, order_id)
    await jobs.enqueue("orders.send_portal_sms", {"order_id": order_id, "to": number, "by": actor.label,
                                                  "user_id": actor.user_id, "send_id": secrets.token_hex(12)})
    return {"queued": True, "channel": "sms", "to": number}
