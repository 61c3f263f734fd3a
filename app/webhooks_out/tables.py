"""Tenant-schema tables of outbound webhooks: endpoints, their signing secrets, and the delivery log."""

from __future__ import annotations

from piccolo.columns import JSONB, Array, BigInt, Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

STATUSES = ("pending", "succeeded", "failed")
"""A delivery is `pending` (queued or waiting for its next attempt), `succeeded` (a 2xx) or `failed` (no retry left,
a 4xx other than 429, a 410, or its endpoint was disabled or removed)."""


class WebhookEndpoint(Table, tablename="webhook_endpoint"):
    id: Serial
    url = Varchar(length=2000)
    description = Varchar(length=500, default="")
    events = Array(base_column=Varchar(length=100))
    """Event names of the catalogue (realtime.events), or ["*"] for every one."""
    enabled = Boolean(default=True)
    disabled_reason = Varchar(length=500, default="")
    failing_since = Timestamptz(null=True, default=None)
    """First failure of the run of failures going on now (None after a success): a day of it disables the endpoint."""
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class WebhookSecret(Table, tablename="webhook_secret"):
    """A signing secret, encrypted at rest (app.lib.crypto); several are active during a rotation."""

    id: Serial
    endpoint = ForeignKey(references=WebhookEndpoint, null=False, index=True)
    secret = Text()
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(null=True, default=None)
    """When an old secret stops signing (None: the current one)."""


class WebhookDelivery(Table, tablename="webhook_delivery"):
    """One message to one URL, with its attempts. `endpoint` is None for a one-off delivery (an automation's "call a
    webhook" action), which carries its own `url` and (encrypted) `secret`."""

    id: Serial
    endpoint = ForeignKey(references=WebhookEndpoint, null=True, default=None, index=True)
    url = Varchar(length=2000)
    secret = Text(null=True, default=None)
    msg_id = Varchar(length=64, unique=True)
    """The `webhook-id` header (the same on every attempt, so a receiver can drop duplicates)."""
    event_id = BigInt(null=True, default=None)
    """The event log's id of the event delivered (None for a test or one-off delivery)."""
    event_type = Varchar(length=100)
    body = Text()
    """The JSON body sent, exactly as signed."""
    causation = JSONB(null=True, default=None)
    status = Varchar(length=12, default="pending")
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(null=True, default=None)
    last_attempt_at = Timestamptz(null=True, default=None)
    response_code = Integer(null=True, default=None)
    latency_ms = Integer(null=True, default=None)
    error = Text(default="")
    request_headers = JSONB(default="{}")
    response_body = Text(default="")
    is_test = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())


class WebhookAttempt(Table, tablename="webhook_attempt"):
    """One HTTP attempt of a delivery (the log shows each)."""

    id: Serial
    delivery = ForeignKey(references=WebhookDelivery, null=False, index=True)
    attempted_at = Timestamptz(default=TimestamptzNow())
    response_code = Integer(null=True, default=None)
    latency_ms = Integer(null=True, default=None)
    error = Text(default="")
    response_body = Text(default="")
