"""The upsell domain's manifest: pairs and reorder suggestions from the shop's own orders, the card's and the
console's panel, the report and the API."""

from __future__ import annotations

from app.lib.domain import Domain
from app.lib.jobs import JobSpec
from app.upsell import jobs, services
from app.upsell.api import UpsellApi
from app.upsell.views import UpsellPanelViews, UpsellViews, console_callers
from realtime.durable import DurableListener

DOMAIN = Domain(
    name="upsell",
    routes=(UpsellApi, UpsellPanelViews, UpsellViews),
    jobs={jobs.RECOMPUTE_JOB: JobSpec(jobs.recompute, max_attempts=3)},
    listeners=(
        DurableListener("upsell.recompute", jobs.on_order_event, jobs.ORDER_EVENTS,
                        "Queues a recompute of the upsell pairs and suggestions after orders change (debounced)."),
        DurableListener("upsell.attribution", jobs.on_order_created, frozenset({"order.created"}),
                        "Marks suggestions as ordered when their contact orders the product soon after, with revenue."),
    ),
    merge_steps=(services.MERGE_STEP,),
    console_extras=(console_callers,),
    piccolo_app="app.upsell.piccolo_app",
)
