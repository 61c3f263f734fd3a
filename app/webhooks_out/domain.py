"""The outbound webhooks domain's manifest: signed deliveries of the event spine's events to admins' URLs.

app/domains.py imports this module after every other domain's manifest: the fan-out listener subscribes to every
durable event of the catalogue, which is complete only once they have all declared theirs."""

from __future__ import annotations

from app.lib.crypto import EncryptedColumn
from app.lib.domain import Domain
from app.lib.jobs import JobSpec
from app.webhooks_out import events, jobs, services
from app.webhooks_out.api import WebhooksApi
from app.webhooks_out.views import WebhookViews
from realtime.durable import DurableListener

LISTENER = DurableListener(
    services.FAN_OUT, services.fan_out, frozenset(services.catalogue()),
    doc="Queues one signed delivery of each event to every enabled webhook endpoint subscribed to it.")

DOMAIN = Domain(
    name="webhooks_out",
    routes=(WebhooksApi, WebhookViews),
    jobs={services.SEND_JOB: JobSpec(jobs.send, max_attempts=3),
          services.NOTIFY_JOB: JobSpec(jobs.notify_disabled)},
    listeners=(LISTENER,),
    piccolo_app="app.webhooks_out.piccolo_app",
    secrets=(EncryptedColumn("webhook_secret", "secret", services.SECRET_PURPOSE),
             EncryptedColumn("webhook_delivery", "secret", services.SECRET_PURPOSE)),
    events=events,
)
