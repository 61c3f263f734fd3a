"""The deals domain's manifest: the sales pipeline on top of contacts and orders."""

from __future__ import annotations

from app.deals import events, services
from app.deals.api import DealsApi
from app.deals.views import DealViews
from app.lib.domain import Domain

DOMAIN = Domain(
    name="deals",
    routes=(DealsApi, DealViews),
    merge_steps=(services.MERGE_STEP,),
    piccolo_app="app.deals.piccolo_app",
    events=events,
)
