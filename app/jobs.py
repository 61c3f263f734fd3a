"""Every background job, registered in one place (name -> function taking the decoded payload). Importing this
module hands the registry to app.lib.jobs; the composition roots (app.asgi, app.cli, tests/conftest.py) do."""

from __future__ import annotations

from app.accounts import jobs as accounts_jobs
from app.contacts import jobs as contacts_jobs
from app.lib.jobs import JobSpec, register
from app.messaging import jobs as messaging_jobs
from app.orders import jobs as orders_jobs
from telephony import jobs as telephony_jobs

REGISTRY: dict[str, JobSpec] = {
    "accounts.send_invitation": JobSpec(accounts_jobs.send_invitation),
    "contacts.run_import": JobSpec(contacts_jobs.run_import),
    "orders.send_portal_link": JobSpec(orders_jobs.send_portal_link),
    "orders.send_portal_sms": JobSpec(orders_jobs.send_portal_sms),
    "orders.run_import": JobSpec(orders_jobs.run_import),
    "telephony.process_webhook": JobSpec(telephony_jobs.process_webhook),
    "orders.send_status_email": JobSpec(orders_jobs.send_status_email),
    # SMTP down for hours loses nothing: back-off doubles to 5 minutes, so 100 attempts span about 8 hours.
    "messaging.send_email": JobSpec(messaging_jobs.send_email, max_attempts=100),
    "messaging.process_inbound": JobSpec(messaging_jobs.process_inbound, max_attempts=20),
}
register(REGISTRY)
