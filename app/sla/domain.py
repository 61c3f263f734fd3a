"""The SLA domain's manifest: policies, clocks on conversations, their timers, the console's badges and alerts."""

from __future__ import annotations

from app.lib.domain import Domain
from app.lib.jobs import JobSpec
from app.sla import clocks, events, listener, live
from app.sla.api import SlaApi
from app.sla.views import SlaConsoleViews, SlaSettingsViews

DOMAIN = Domain(
    name="sla",
    routes=(SlaApi, SlaSettingsViews, SlaConsoleViews),
    jobs={clocks.CHECK_JOB: JobSpec(clocks.check)},
    listeners=(listener.LISTENER,),
    renderers=(live.console_queue_badges, live.console_mine_badges, live.supervisor_alert),
    console_extras=(live.console_badges,),
    piccolo_app="app.sla.piccolo_app",
    events=events,
)
