"""The outbound webhooks domain's manifest: signed deliveries of the event spine's events to admins' URLs."""

from __future__ import annotations

from app.lib.domain import Domain
from app.lib.jobs import JobSpec
from app.webhooks_out import jobs, services

DOMAIN = Domain(
    name="webhooks_out",
    jobs={services.SEND_JOB: JobSpec(jobs.send, max_attempts=3)},
    piccolo_app="app.webhooks_out.piccolo_app",
)
