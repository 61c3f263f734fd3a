"""The campaigns domain's manifest: bulk SMS/email to a segment, sent by a crash-safe job, shown live."""

from __future__ import annotations

from app.campaigns import events, live, merge, sender, services
from app.campaigns.api import CampaignsApi
from app.campaigns.views import CampaignViews
from app.lib.domain import Domain
from app.lib.jobs import JobSpec

DOMAIN = Domain(
    name="campaigns",
    routes=(CampaignsApi, CampaignViews),
    jobs={services.RUN_JOB: JobSpec(sender.run, max_attempts=20)},
    renderers=(live.campaign_page,),
    merge_steps=(merge.MERGE_STEP,),
    piccolo_app="app.campaigns.piccolo_app",
    events=events,
)
