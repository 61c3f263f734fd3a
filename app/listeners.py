"""Every durable listener, declared in one place (like app/jobs.py): reactions to committed events that are not
about showing something. The worker runs them per tenant with their own cursor (realtime.durable)."""

from __future__ import annotations

from app import events_catalogue  # noqa: F401  (the names listeners subscribe to are declared)
from app.orders import notify
from realtime.durable import DurableListener

DURABLE: list[DurableListener] = [
    DurableListener("orders.status_notifier", notify.on_status_changed, frozenset({"order.status_changed"}),
                    "Emails the customer when their order reaches a status the shop chose."),
]


def docs() -> dict[str, str]:
    return {li.name: li.doc for li in DURABLE}
