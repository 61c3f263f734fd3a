"""Background jobs of the orders domain: the portal link by email (an SMS hook for the telephony layer)."""

from __future__ import annotations

from typing import Any

from app.accounts.tables import Workspace
from app.lib import mail
from app.lib.db import tenant_context
from app.lib.templates import render_text
from app.orders import portal
from app.orders.tables import Order
from app.settings import get_settings
from app.timeline import services as timeline
from tenants import services as tenants


async def send_portal_link(payload: dict[str, Any]) -> None:
    """Email the order's current portal link; a link revoked since the job was queued is not sent."""
    tenant = await tenants.resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        order = await Order.select(Order.id, Order.number, Order.contact).where(
            Order.id == payload["order_id"]).first()
        link = await portal.current_link(payload["order_id"]) if order else None
        ws = await Workspace.select(Workspace.display_name).first()
    if order is None or link is None:
        return
    shop = ws["display_name"] if ws else tenant.name
    context = {"shop": shop, "number": order["number"], "url": link["url"]}
    settings = get_settings()
    message = mail.build_message(settings.mail.from_address, payload["to"], f"Your order {order['number']} at {shop}",
                                 render_text("emails/order_portal.txt", context),
                                 render_text("emails/order_portal.html", context))
    await mail.send(mail.SmtpAccount.platform(settings.mail), message)
    async with tenant_context(tenant):
        await timeline.record(order["contact"], "email", "out", f"Order {order['number']}: tracking link emailed to "
                              f"{payload['to']}", links={"order_id": order["id"]}, actor_label=payload.get("by", ""),
                              payload={"event": "portal_link_sent", "order_id": order["id"], "to": payload["to"]})


async def send_portal_sms(payload: dict[str, Any]) -> None:
    """Hook for the telephony layer: send `payload['to']` the portal link by SMS (not wired yet)."""
    raise NotImplementedError("SMS sending lands with the telephony integration")


async def send_status_email(payload: dict[str, Any]) -> None:
    """The tenant's status email to the customer, from its sandboxed template; recorded on the timeline."""
    from app.contacts import services as contacts
    from app.orders import money, notify, pipeline

    tenant = await tenants.resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        conf = await notify.settings()
        order = await Order.select(Order.id, Order.number, Order.contact, Order.total, Order.currency,
                                   Order.portal_nonce, Order.portal_revoked_at).where(
            Order.id == payload["order_id"]).first()
        if order is None or not conf["enabled"]:
            return
        card = await contacts.get(order["contact"])
        link = await portal.current_link(order["id"])
        if link is None and order["portal_revoked_at"] is None:
            link = await portal.issue_for_system(order["id"])  # never issued yet: the email is the place for it
        label = (await pipeline.by_key()).get(payload["status"], {}).get("label", payload["status"])
        ws = await Workspace.select(Workspace.display_name).first()
    if not card["emails"]:
        return
    shop = ws["display_name"] if ws else tenant.name
    context = {"order": {"number": order["number"], "total": money.fmt(order["total"], order["currency"]),
                         "currency": order["currency"], "status": payload["status"]},
               "status": label, "portal_url": link["url"] if link else "", "customer": card["name"] or "customer",
               "shop": shop}
    to = card["emails"][0]
    try:
        subject = notify.render(conf["subject"], context).strip().replace("\n", " ")[:300]
        text = notify.render(conf["body"], context)
    except Exception as exc:  # a template that fails at send time is reported, not retried forever
        async with tenant_context(tenant):
            await timeline.record(order["contact"], "email", "out", f"Status email for {order['number']} not sent: "
                                  f"template error ({type(exc).__name__})", links={"order_id": order["id"]},
                                  payload={"event": "status_email_failed", "order_id": order["id"]})
        return
    settings = get_settings()
    await mail.send(mail.SmtpAccount.platform(settings.mail),
                    mail.build_message(settings.mail.from_address, to, subject, text))
    async with tenant_context(tenant):
        await timeline.record(order["contact"], "email", "out", f"Status email sent to {to}: {subject}",
                              links={"order_id": order["id"]},
                              payload={"event": "status_email_sent", "order_id": order["id"], "to": to,
                                       "status": payload["status"], "body": text})
