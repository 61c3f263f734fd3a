"""Background jobs of the orders domain: the portal link by email or SMS, the status email."""

from __future__ import annotations

import dataclasses
from typing import Any

from app.accounts.tables import User, Workspace
from app.contacts import services as contacts
from app.lib import i18n, mail, money
from app.lib.db import resolve_active, tenant_context
from app.lib.errors import DomainError
from app.lib.templates import render_text
from app.orders import imports, notify, pipeline, portal
from app.orders.tables import Order
from app.settings import get_settings
from app.timeline import services as timeline
from telephony import sms


async def send_portal_link(payload: dict[str, Any]) -> None:
    """Email the order's current portal link; a link revoked since the job was queued is not sent."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        order = await Order.select(Order.id, Order.number, Order.contact).where(
            Order.id == payload["order_id"]).first()
        link = await portal.current_link(payload["order_id"]) if order else None
        ws = await Workspace.select(Workspace.display_name).first()
        language = await contacts.language_of(order["contact"]) if order else ""
        zone = await contacts.zone_of(order["contact"], or_workspace=True) if order else ""
    if order is None or link is None:
        return
    shop = ws["display_name"] if ws else tenant.name
    context = {"shop": shop, "number": order["number"], "url": link["url"]}
    settings = get_settings()
    with i18n.viewing(language, zone):  # the customer reads it in the contact's language (and zone, or the shop's)
        message = mail.build_message(settings.mail.from_address, payload["to"],
                                     i18n.gettext("Your order %(number)s at %(shop)s", number=order["number"],
                                                  shop=shop),
                                     render_text("emails/order_portal.txt", context),
                                     render_text("emails/order_portal.html", context))
    await mail.send(mail.SmtpAccount.platform(settings.mail), message)
    async with tenant_context(tenant):
        await timeline.record(order["contact"], "email", "out",
                              "Order %(number)s: tracking link emailed to %(to)s",
                              params={"number": order["number"], "to": payload["to"]}, links={"order_id": order["id"]},
                              actor_label=payload.get("by", ""),
                              payload={"event": "portal_link_sent", "order_id": order["id"], "to": payload["to"]})


@dataclasses.dataclass(frozen=True)
class SmsSender:
    """Who the SMS is from on the timeline: the user who pressed "send" (None if they are gone since)."""

    label: str
    user_id: int | None = None


async def send_portal_sms(payload: dict[str, Any]) -> None:
    """Text the order's current portal link through the tenant's Twilio account; on the contact's timeline (an
    outbound SMS linked to the order, its delivery status kept up to date by the status webhook).

    Idempotent: a retry after the SMS was recorded finds the entry by `send_id` and sends nothing. A link revoked
    since the job was queued is not sent. A refusal that a retry cannot fix (no Twilio, a bad number) is put on the
    timeline instead of being retried; Twilio being unreachable (502) is retried with back-off.
    """
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    send_id = str(payload.get("send_id") or "")
    async with tenant_context(tenant) as uow:
        order = await Order.select(Order.id, Order.number, Order.contact).where(
            Order.id == payload["order_id"]).first()
        link = await portal.current_link(payload["order_id"]) if order else None
        if order is None or link is None:
            return
        if send_id and await uow.connection.fetchval(
                "SELECT 1 FROM interaction WHERE contact = $1 AND payload->>'portal_send_id' = $2",
                order["contact"], send_id):
            return
        ws = await Workspace.select(Workspace.display_name).first()
        user_id = payload.get("user_id")
        if user_id is not None and not await User.exists().where(User.id == user_id):
            user_id = None
        sender = SmsSender(label=str(payload.get("by", "")), user_id=user_id)
        shop = ws["display_name"] if ws else tenant.name
        with i18n.viewing(await contacts.language_of(order["contact"])):
            body = i18n.gettext("%(shop)s: follow your order %(number)s here: %(url)s", shop=shop,
                                number=order["number"], url=link["url"])
        try:
            async with uow.connection.transaction():  # a savepoint: a refusal leaves nothing half-written
                await sms.send(sender, order["contact"], body, number=payload["to"],  # type: ignore[arg-type]
                               links={"order_id": order["id"]},
                               extra={"order_id": order["id"], "portal_link": True, "portal_send_id": send_id})
        except DomainError as exc:
            if exc.status_code >= 500:
                raise  # Twilio unreachable or failing: the job is retried
            await timeline.record(order["contact"], "sms", "out",
                                  "Order %(number)s: tracking link SMS to %(to)s not sent: %(reason)s",
                                  params={"number": order["number"], "to": payload["to"], "reason": exc.detail},
                                  links={"order_id": order["id"]},
                                  actor_label=sender.label,
                                  payload={"event": "portal_link_failed", "order_id": order["id"],
                                           "to": payload["to"], "reason": exc.detail, "portal_send_id": send_id})


async def send_status_email(payload: dict[str, Any]) -> None:
    """The tenant's status email to the customer, from its sandboxed template; recorded on the timeline."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        conf = await notify.settings()
        order = await Order.select(Order.id, Order.number, Order.contact, Order.total, Order.currency,
                                   Order.placed_at, Order.portal_nonce, Order.portal_revoked_at).where(
            Order.id == payload["order_id"]).first()
        if order is None or not conf["enabled"]:
            return
        card = await contacts.get(order["contact"])
        link = await portal.current_link(order["id"])
        if link is None and order["portal_revoked_at"] is None:
            link = await portal.issue_for_system(order["id"])  # never issued yet: the email is the place for it
        status = (await pipeline.by_key()).get(payload["status"]) or {"key": payload["status"],
                                                                     "label": payload["status"]}
        language = await contacts.language_of(order["contact"])
        zone = await contacts.zone_of(order["contact"], or_workspace=True)
        ws = await Workspace.select(Workspace.display_name).first()
    if not card["emails"]:
        return
    shop = ws["display_name"] if ws else tenant.name
    context = {"order": {"number": order["number"], "total": money.fmt(order["total"], order["currency"]),
                         "currency": order["currency"], "status": payload["status"]},
               "status": "", "portal_url": link["url"] if link else "", "customer": card["name"] or "customer",
               "shop": shop}
    to = card["emails"][0]
    try:
        with i18n.viewing(language, zone):  # the customer's language, and their zone (else the shop's)
            context["status"] = pipeline.named(status)["name"]  # a default status in the customer's language
            context["order"]["placed_at"] = i18n.format_datetime(order["placed_at"])
            subject = notify.render(notify.localised(conf["subject"]), context).strip().replace("\n", " ")[:300]
            text = notify.render(notify.localised(conf["body"]), context)
    except Exception as exc:  # a template that fails at send time is reported, not retried forever
        async with tenant_context(tenant):
            await timeline.record(order["contact"], "email", "out",
                                  "Status email for %(number)s not sent: template error (%(error)s)",
                                  params={"number": order["number"], "error": type(exc).__name__},
                                  links={"order_id": order["id"]},
                                  payload={"event": "status_email_failed", "order_id": order["id"]})
        return
    settings = get_settings()
    await mail.send(mail.SmtpAccount.platform(settings.mail),
                    mail.build_message(settings.mail.from_address, to, subject, text))
    async with tenant_context(tenant):
        await timeline.record(order["contact"], "email", "out", "Status email sent to %(to)s: %(subject)s",
                              params={"to": to, "subject": subject},
                              links={"order_id": order["id"]},
                              payload={"event": "status_email_sent", "order_id": order["id"], "to": to,
                                       "status": payload["status"], "body": text})


async def run_import(payload: dict[str, Any]) -> None:
    """Land the orders of a CSV import in batches; resumes at the last committed order when retried."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    await imports.run(tenant, int(payload["import_id"]), actor_label=str(payload.get("actor", "")))
