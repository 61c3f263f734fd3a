"""The business-hours domain's manifest: calendars, each queue's calendar, outside-hours behaviour."""

from __future__ import annotations

from app.hours import events, live, outside, services
from app.hours.api import HoursApi
from app.hours.views import HoursViews
from app.lib.domain import Domain
from app.lib.jobs import JobSpec

DOMAIN = Domain(
    name="hours",
    routes=(HoursApi, HoursViews),
    jobs={services.TICK_JOB: JobSpec(live.tick)},
    listeners=(outside.AUTO_REPLY,),
    renderers=(live.console_queue_hours,),
    console_extras=(outside.console_closed,),
    piccolo_app="app.hours.piccolo_app",
    events=events,
)
