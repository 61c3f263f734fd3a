"""Outbound webhook rules: endpoints and their secrets, queuing deliveries (one per subscribed endpoint and event,
or one-off from an automation), and the Standard Webhooks message every delivery sends.

A delivery is a row written inside the caller's unit of work plus a job (`webhooks_out.send`) queued in the same
transaction: nothing leaves the product for work that rolled back.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets as random
from typing import Any
from urllib.parse import urlsplit

from app.lib import crypto, jobs
from app.lib.clock import now
from app.lib.errors import Invalid
from app.webhooks_out.tables import WebhookDelivery

SEND_JOB = "webhooks_out.send"
SECRET_PURPOSE = "webhooks_out.secret"  # noqa: S105 (a key-derivation label, not a secret)
SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks prefix)
SECRET_BYTES = 32
"""Random bytes of a new signing secret (Standard Webhooks asks for 24 to 64)."""


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: `whsec_` + base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(random.token_bytes(SECRET_BYTES)).decode("ascii")


def new_msg_id() -> str:
    return "msg_" + random.token_urlsafe(18)


def check_url(url: str) -> str:
    """The URL's form (http or https, a host, no credentials): the addresses it resolves to are checked by
    app.webhooks_out.net at creation and again at each attempt."""
    url = (url or "").strip()
    if not url or len(url) > 2000:
        raise Invalid("url must be 1 to 2000 characters.", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise Invalid("url %(url)s is not a valid URL.", field="url", url=repr(url)) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("url must start with http:// or https:// and name a host.", field="url")
    if parts.username or parts.password:
        raise Invalid("url must not contain a user name or password.", field="url")
    return url


def body(event_type: str, data: dict[str, Any], *, timestamp: str | None = None) -> str:
    """The JSON body of a delivery: `{"type", "timestamp", "data"}` (Standard Webhooks' payload structure)."""
    stamp = timestamp or now().isoformat().replace("+00:00", "Z")
    return json.dumps({"type": event_type, "timestamp": stamp, "data": data}, separators=(",", ":"),
                      ensure_ascii=False, default=str)


async def queue(*, url: str, event_type: str, payload: str, endpoint_id: int | None = None,
                secret: str | None = None, event_id: int | None = None, causation: dict[str, Any] | None = None,
                is_test: bool = False) -> int:
    """Write a pending delivery and queue its first attempt in the current unit of work; returns its id."""
    row = await WebhookDelivery.insert(WebhookDelivery(
        endpoint=endpoint_id, url=url, secret=crypto.encrypt(secret, purpose=SECRET_PURPOSE) if secret else None,
        msg_id=new_msg_id(), event_id=event_id, event_type=event_type, body=payload, causation=causation,
        status="pending", next_attempt_at=now(), is_test=is_test)).returning(WebhookDelivery.id)
    delivery_id = int(row[0]["id"])
    await jobs.enqueue(SEND_JOB, {"delivery_id": delivery_id, "attempt": 1}, dedupe_key=f"{SEND_JOB}:{delivery_id}")
    return delivery_id


async def deliver_once(url: str, event_type: str, data: dict[str, Any], *, secret: str | None = None,
                       causation: dict[str, Any] | None = None) -> int:
    """Queue ONE signed delivery of `{type: event_type, timestamp, data}` to `url` (an automation's "call a webhook"
    action) inside the current unit of work; returns the delivery id.

    Signed with `secret` (a `whsec_...` string) when given, else sent with the `webhook-id` and `webhook-timestamp`
    headers only. Retried and SSRF-checked like every delivery (the address is checked at each attempt, so a URL
    that resolves to a private address ends as a failed delivery, not an error here). A malformed URL or secret
    raises `Invalid`. `causation` (e.g. {"rule_id": 3, "event_id": 81, "depth": 1}) is stored on the delivery."""
    url = check_url(url)
    if secret is not None:
        check_secret(secret)
    if not isinstance(data, dict):
        raise Invalid("data must be a JSON object.", field="data")
    return await queue(url=url, event_type=event_type, payload=body(event_type, data), secret=secret,
                       causation=causation)


def check_secret(secret: str) -> bytes:
    """The key bytes of a `whsec_` secret (base64 after the prefix, 24 to 64 bytes)."""
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("secret must be whsec_ followed by base64.", field="secret") from None
    if not 24 <= len(key) <= 64:
        raise Invalid("secret must hold 24 to 64 bytes.", field="secret")
    return key
