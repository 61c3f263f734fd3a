"""The business-hours domain's manifest: calendars, each queue's calendar, outside-hours behaviour."""

from __future__ import annotations

from app.hours.api import HoursApi
from app.lib.domain import Domain

DOMAIN = Domain(
    name="hours",
    routes=(HoursApi,),
    piccolo_app="app.hours.piccolo_app",
)
