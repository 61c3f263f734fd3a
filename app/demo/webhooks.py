"""The demo shop's outbound webhook: one endpoint, turned off, pointing at a loopback URL (nothing listens there,
and a fresh `make run` does not allow loopback targets), with a few deliveries in its log to show what one looks
like: delivered, retried then delivered, and failed."""

from __future__ import annotations

import datetime as dt
import json

from app.lib import crypto
from app.lib.clock import now
from app.lib.db import resolve_active, tenant_context
from app.webhooks_out import services, signing
from app.webhooks_out.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookSecret

DEMO_WEBHOOK_URL = "http://127.0.0.1:9/demo-webhooks"
DEMO_WEBHOOK_EVENTS = ["contact.created", "order.status_changed"]

# (minutes ago, event, data, [(status code or None, error, minutes after the first attempt)], final status)
_LOG: list[tuple[int, str, dict[str, object], list[tuple[int | None, str, int]], str]] = [
    (180, "contact.created", {"contact_id": 1}, [(200, "", 0)], "succeeded"),
    (95, "order.status_changed", {"order_id": 1, "contact_id": 1, "status": "shipped"},
     [(503, "HTTP 503", 0), (None, "timed out after 10 s", 1), (200, "", 6)], "succeeded"),
    (40, "contact.created", {"contact_id": 2}, [(400, "HTTP 400", 0)], "failed"),
]


async def ensure_demo_webhooks(slug: str) -> bool:
    """Add the demo endpoint and its log to the shop `slug` once (an admin's later changes are kept)."""
    tenant = await resolve_active(slug)
    if tenant is None:
        return False
    async with tenant_context(tenant):
        if await WebhookEndpoint.exists().where(WebhookEndpoint.url == DEMO_WEBHOOK_URL):
            return False
        row = await WebhookEndpoint.insert(WebhookEndpoint(
            url=DEMO_WEBHOOK_URL, description="Demo: the shop's order system (turned off)",
            events=DEMO_WEBHOOK_EVENTS, enabled=False, disabled_reason="manual")).returning(WebhookEndpoint.id)
        endpoint_id = row[0]["id"]
        secret = services.new_secret()
        await WebhookSecret.insert(WebhookSecret(endpoint=endpoint_id,
                                                 secret=crypto.encrypt(secret, purpose=services.SECRET_PURPOSE)))
        anchor = now()
        for ago, event_type, data, attempts, status in _LOG:
            created = anchor - dt.timedelta(minutes=ago)
            body = services.body(event_type, data, timestamp=created.isoformat().replace("+00:00", "Z"))
            msg_id = services.new_msg_id()
            last = created + dt.timedelta(minutes=attempts[-1][2])
            headers = signing.headers(msg_id, int(last.timestamp()), body, [secret])
            code, error, _ = attempts[-1]
            delivery = await WebhookDelivery.insert(WebhookDelivery(
                endpoint=endpoint_id, url=DEMO_WEBHOOK_URL, msg_id=msg_id, event_type=event_type, body=body,
                status=status, attempts=len(attempts), last_attempt_at=last, response_code=code,
                latency_ms=None if code is None else 42, error=error, request_headers=json.dumps(headers),
                response_body="ok" if code == 200 else "", created_at=created)).returning(WebhookDelivery.id)
            for code, error, after in attempts:
                await WebhookAttempt.insert(WebhookAttempt(
                    delivery=delivery[0]["id"], attempted_at=created + dt.timedelta(minutes=after),
                    response_code=code, latency_ms=None if code is None else 42, error=error,
                    response_body="ok" if code == 200 else ""))
    return True
