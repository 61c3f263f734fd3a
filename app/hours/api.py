"""Business-hours JSON API under /t/{slug}/api/v1: calendars (week, closed dates, overrides) and each queue's
calendar and outside-hours behaviour. Reading is for everyone signed in, changing for admins."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.params import JSONBody

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.hours import calendars, services
from app.hours.schemas import (
    CalendarIn,
    CalendarOut,
    CalendarSummaryOut,
    ClosedDateIn,
    OverrideIn,
    QueueHoursIn,
    QueueHoursOut,
    QueueStatusOut,
)
from app.lib.clock import now
from app.lib.wire import PathId

Req = Request[Principal, Any, Any]


def calendar_out(row: dict[str, Any]) -> CalendarOut:
    return msgspec.convert(row, CalendarOut, from_attributes=False, strict=False)


class HoursApi(Controller):
    path = "/api/v1"
    tags = ["business hours"]
    guards = [signed_in]

    @get("/calendars", summary="Business-hours calendars, with the queues that keep each")
    async def list_calendars(self) -> list[CalendarSummaryOut]:
        return [msgspec.convert(r, CalendarSummaryOut, strict=False) for r in await services.calendars()]

    @post("/calendars", guards=[requires("admin")], summary="Create a calendar: zone, public holidays, weekly "
          "intervals (several per day for split shifts)")
    async def create_calendar(self, request: Req, data: JSONBody[CalendarIn]) -> CalendarOut:
        return calendar_out(await calendars.save_calendar(request.user, data))

    @get("/calendars/{calendar_id:int}", summary="A calendar with its week, closed dates, overrides and the public "
         "holidays of the next 12 months")
    async def read_calendar(self, calendar_id: PathId) -> CalendarOut:
        return calendar_out(await services.calendar(calendar_id))

    @put("/calendars/{calendar_id:int}", guards=[requires("admin")], summary="Replace a calendar's name, zone, "
         "holidays and week")
    async def update_calendar(self, request: Req, calendar_id: PathId, data: JSONBody[CalendarIn]) -> CalendarOut:
        return calendar_out(await calendars.save_calendar(request.user, data, calendar_id))

    @delete("/calendars/{calendar_id:int}", guards=[requires("admin")], summary="Delete a calendar no queue keeps")
    async def delete_calendar(self, request: Req, calendar_id: PathId) -> None:
        await calendars.delete_calendar(request.user, calendar_id)

    @post("/calendars/{calendar_id:int}/closed-dates", guards=[requires("admin")], summary="Add one of the shop's "
          "own closed dates")
    async def add_closed_date(self, request: Req, calendar_id: PathId, data: JSONBody[ClosedDateIn]) -> CalendarOut:
        return calendar_out(await calendars.add_closed_date(request.user, calendar_id, data.day, data.name))

    @delete("/calendars/{calendar_id:int}/closed-dates/{closed_id:int}", guards=[requires("admin")], status_code=200,
            summary="Remove a closed date")
    async def remove_closed_date(self, request: Req, calendar_id: PathId, closed_id: PathId) -> CalendarOut:
        return calendar_out(await calendars.remove_closed_date(request.user, calendar_id, closed_id))

    @post("/calendars/{calendar_id:int}/overrides", guards=[requires("admin")], summary="Give one date its own "
          "intervals (none: closed all day)")
    async def set_override(self, request: Req, calendar_id: PathId, data: JSONBody[OverrideIn]) -> CalendarOut:
        return calendar_out(await calendars.set_override(request.user, calendar_id, data.day, data.name,
                                                        [(i.opens, i.closes) for i in data.intervals]))

    @delete("/calendars/{calendar_id:int}/overrides/{override_id:int}", guards=[requires("admin")], status_code=200,
            summary="Remove an override")
    async def remove_override(self, request: Req, calendar_id: PathId, override_id: PathId) -> CalendarOut:
        return calendar_out(await calendars.remove_override(request.user, calendar_id, override_id))

    @get("/queue-hours", summary="Every queue's calendar and outside-hours behaviour")
    async def queue_hours(self) -> list[QueueHoursOut]:
        return [msgspec.convert(r, QueueHoursOut) for r in await services.queue_settings()]

    @put("/queue-hours/{queue_id:int}", guards=[requires("admin")], summary="Set a queue's calendar (null: around "
         "the clock) and what callers and writers get while it is closed")
    async def set_queue_hours(self, request: Req, queue_id: PathId, data: JSONBody[QueueHoursIn]) -> QueueHoursOut:
        return msgspec.convert(await services.set_queue_hours(
            request.user, queue_id, calendar_id=data.calendar_id, outside_hours_call=data.outside_hours_call,
            auto_reply=data.auto_reply), QueueHoursOut)

    @get("/queue-hours/{queue_id:int}/status", summary="Whether a queue is open now, and when it opens if not")
    async def queue_status(self, queue_id: PathId) -> QueueStatusOut:
        await services.queue_setting(queue_id)
        closed = await services.closed_queues([queue_id], now())
        return QueueStatusOut(queue_id=queue_id, open=queue_id not in closed, opens_at=closed.get(queue_id))
