"""Every background job, registered in one place (name -> function taking the decoded payload)."""

from __future__ import annotations

from app.accounts import jobs as accounts_jobs
from app.orders import jobs as orders_jobs
from telephony import jobs as telephony_jobs
from app.lib.jobs import JobSpec

REGISTRY: dict[str, JobSpec] = {
    "accounts.send_invitation": JobSpec(accounts_jobs.send_invitation),
    "orders.send_portal_link": JobSpec(orders_jobs.send_portal_link),
    "telephony.process_webhook": JobSpec(telephony_jobs.process_webhook),
    "orders.send_status_email": JobSpec(orders_jobs.send_status_email),
}
