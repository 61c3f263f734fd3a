"""Campaign tracking and results (issue 19's feedback loop), a manifest of its own beside the campaigns domain:
public open/click links, milestone listeners on messages, consent and orders, results API and live section, and
the console's "Campaign: <name>" badge on a reply's conversation."""

from __future__ import annotations

from app.campaigns import tracking
from app.campaigns.tracking_web import (
    CampaignResultsApi,
    CampaignResultsViews,
    TrackingViews,
    results_section,
)
from app.lib.domain import Domain

DOMAIN = Domain(
    name="campaign_tracking",
    routes=(TrackingViews, CampaignResultsApi, CampaignResultsViews),
    listeners=tracking.LISTENERS,
    renderers=(results_section,),
    console_extras=(tracking.console_campaigns,),
)
