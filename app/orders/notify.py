"""Per-tenant customer emails on status changes, from templates the shop writes ({{ order.number }},
{{ status }}, {{ portal_url }}), rendered in Jinja's sandbox: a template cannot reach Python objects or the app."""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateError

from app.accounts.services import Principal
from app.audit import services as audit
from app.lib import i18n, jobs, usertemplates
from app.lib.errors import Forbidden, Invalid
from app.lib.i18n import N_
from app.orders import pipeline
from app.orders.tables import OrderNotification
from realtime.events import Event

DEFAULT_BODY = N_("""Hello {{ customer }},

your order {{ order.number }} at {{ shop }} is now: {{ status }}.
{% if portal_url %}
Follow it here: {{ portal_url }}
{% endif %}
{{ shop }}
""")
DEFAULT_SUBJECT = N_("Your order {{ order.number }} is {{ status }}")
"""The shipped defaults: a customer gets them in their language until the shop writes its own."""
SAMPLE = {"order": {"number": "1001", "total": "25.00 EUR", "currency": "EUR", "status": "shipped",
                    "placed_at": "1/15/26, 3:00 PM"},
          "status": "Shipped", "portal_url": "https://example.invalid/portal/x", "customer": "Ada", "shop": "Shop"}


def localised(template: str) -> str:
    """A shipped default in the viewer's language; the shop's own text as it is."""
    return i18n.gettext(template) if template in (DEFAULT_BODY, DEFAULT_SUBJECT) else template


def render(template: str, context: dict[str, Any]) -> str:
    """Plain-data context only (dicts of strings): the sandbox refuses attribute tricks, and we give it nothing else."""
    return usertemplates.template(template, trim_blocks=True).render(**context)


def check(template: str, field: str) -> str:
    try:
        render(template, SAMPLE)
    except TemplateError as exc:  # syntax errors and SecurityError (sandbox) alike
        raise Invalid("%(field_name)s is not a valid template: %(exc)s", field=field, field_name=field,
                      exc=exc) from None
    return template


async def settings() -> dict[str, Any]:
    row = await OrderNotification.select().first()
    if row is None:
        return {"enabled": False, "statuses": [], "subject": OrderNotification.subject.default,
                "body": DEFAULT_BODY}
    return {k: row[k] for k in ("enabled", "statuses", "subject", "body")} | {"body": row["body"] or DEFAULT_BODY}


async def configure(actor: Principal, *, enabled: bool, statuses: list[str], subject: str, body: str
                    ) -> dict[str, Any]:
    if not actor.has_role("admin"):
        raise Forbidden("Only an admin can change customer notifications.")
    known = await pipeline.by_key()
    for i, key in enumerate(statuses):
        if key not in known:
            raise Invalid("No status %(key)s.", field=f"statuses[{i}]", key=repr(key))
    if not subject.strip() or len(subject) > 300:
        raise Invalid("subject must be 1 to 300 characters.", field="subject")
    if len(body) > 20_000:
        raise Invalid("body must be at most 20000 characters.", field="body")
    values = {"enabled": enabled, "statuses": statuses, "subject": check(subject, "subject"),
              "body": check(body or DEFAULT_BODY, "body")}
    if await OrderNotification.exists():
        await OrderNotification.update({getattr(OrderNotification, k): v for k, v in values.items()}, force=True)
    else:
        await OrderNotification.insert(OrderNotification(**values))
    await audit.record("order_notification.updated", actor_id=actor.user_id, actor=actor.label,
                       target_type="order_notification", detail={"enabled": enabled, "statuses": statuses})
    return await settings()


async def on_status_changed(event: Event) -> None:
    """Durable listener on order.status_changed (app/listeners.py): the email job commits with the listener's
    cursor, so a retried batch never queues it twice."""
    order_id, status = event.data["order_id"], event.data["status"]
    conf = await settings()
    if conf["enabled"] and (not conf["statuses"] or status in conf["statuses"]):
        await jobs.enqueue("orders.send_status_email", {"order_id": order_id, "status": status})
