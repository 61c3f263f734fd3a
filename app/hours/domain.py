"""The business-hours domain's manifest: calendars, each queue's calendar, outside-hours behaviour."""

from __future__ import annotations

from app.hours import outside
from app.hours.api import HoursApi
from app.hours.views import HoursViews
from app.lib.domain import Domain

DOMAIN = Domain(
    name="hours",
    routes=(HoursApi, HoursViews),
    listeners=(outside.AUTO_REPLY,),
    console_extras=(outside.console_closed,),
    piccolo_app="app.hours.piccolo_app",
)
