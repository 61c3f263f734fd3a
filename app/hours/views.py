"""The admin's business-hours pages at /t/{slug}/settings/hours: calendars (the week grid with split shifts, the
shop's closed dates, the public holidays of the next 12 months, one-off overrides) and each queue's calendar and
outside-hours behaviour."""

from __future__ import annotations

from typing import Any

import holidays as holidays_lib
from litestar import Controller, Request, get, post
from litestar.response import Template

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.hours import calendars, services
from app.hours.schemas import CalendarIn, IntervalIn
from app.hours.tables import OUTSIDE_HOURS_CALL
from app.lib import i18n
from app.lib.errors import DomainError, Invalid
from app.lib.templates import render_page
from app.lib.wire import PathId

Req = Request[Principal, Any, Any]
LIST_PAGE = "pages/hours.html"
CALENDAR_PAGE = "pages/hours_calendar.html"


def day_text(intervals: list[dict[str, Any]], weekday: int) -> str:
    """A day's intervals as the week grid shows them: "09:00-13:00, 14:00-18:00"."""
    return ", ".join(f"{w['opens']}-{w['closes']}" for w in intervals if w.get("weekday", weekday) == weekday)


def parse_day(text: str, field: str) -> list[tuple[str, str]]:
    """ "09:00-13:00, 14:00-18:00" -> [("09:00", "13:00"), ("14:00", "18:00")]; empty: closed."""
    pairs = []
    for part in (text or "").replace(";", ",").split(","):
        if not part.strip():
            continue
        opens, sep, closes = part.strip().partition("-")
        if not sep:
            raise Invalid("Write each interval as HH:MM-HH:MM, separated by commas (%(value)s).", field=field,
                          value=repr(part.strip()))
        pairs.append((opens.strip(), closes.strip()))
    return pairs


def calendar_in(form: Any) -> CalendarIn:
    weekly = [IntervalIn(weekday=d, opens=a, closes=b)
              for d in range(7) for a, b in parse_day(str(form.get(f"day_{d}", "")), f"weekly[{d}]")]
    return CalendarIn(name=str(form.get("name", "")), zone=str(form.get("zone", "")),
                      country=str(form.get("country", "")), subdivision=str(form.get("subdivision", "")),
                      public_holidays=form.get("public_holidays") is not None, weekly=weekly)


def _choices() -> dict[str, Any]:
    return {"zones": i18n.zone_names(), "countries": sorted(holidays_lib.list_supported_countries()),
            "weekdays": [i18n.current().locale.days["format"]["wide"][d] for d in range(7)]}


def _new_form(form: dict[str, Any]) -> dict[str, Any]:
    """The "add a calendar" form, filled again with what was typed after an error."""
    cal = {k: str(form.get(k, "")) for k in ("name", "zone", "country", "subdivision")}
    return {"cal": {**cal, "public_holidays": not form or form.get("public_holidays") is not None},
            "days": {d: str(form.get(f"day_{d}", "")) for d in range(7)}}


class HoursViews(Controller):
    path = "/settings/hours"
    include_in_schema = False
    guards = [requires("admin")]

    async def _list(self, request: Req, *, error: str | None = None, notice: str | None = None,
                    status: int = 200, form: dict[str, Any] | None = None) -> Template:
        return render_page(request, LIST_PAGE, {
            "calendars": await services.calendars(), "queues": await services.queue_settings(),
            "calls": OUTSIDE_HOURS_CALL, "error": error, "notice": notice, **_new_form(form or {}), **_choices()},
            status_code=status)

    async def _calendar(self, request: Req, calendar_id: int, *, error: str | None = None,
                        notice: str | None = None, status: int = 200) -> Template:
        cal = await services.calendar(calendar_id)
        days = {d: day_text([w for w in cal["weekly"] if w["weekday"] == d], d) for d in range(7)}
        return render_page(request, CALENDAR_PAGE, {"cal": cal, "days": days, "error": error, "notice": notice,
                                                    "zone": services.ZoneInfo(cal["zone"]), **_choices()},
                           status_code=status)

    @get("/")
    async def page(self, request: Req) -> Template:
        return await self._list(request)

    @post("/")
    async def create(self, request: Req) -> Template:
        form = await request.form()
        try:
            cal = await calendars.save_calendar(request.user, calendar_in(form))
        except DomainError as exc:
            return await self._list(request, error=exc.labelled, status=exc.status_code, form=dict(form))
        return await self._calendar(request, cal["id"], notice=i18n.gettext("Calendar “%(name)s” added.",
                                                                            name=cal["name"]))

    @post("/queues/{queue_id:int}")
    async def queue(self, request: Req, queue_id: PathId) -> Template:
        form = await request.form()
        calendar = str(form.get("calendar_id", ""))
        try:
            row = await services.set_queue_hours(
                request.user, queue_id, calendar_id=int(calendar) if calendar.isdigit() else None,
                outside_hours_call=str(form.get("outside_hours_call", "voicemail")),
                auto_reply=str(form.get("auto_reply", "")))
        except DomainError as exc:
            return await self._list(request, error=exc.labelled, status=exc.status_code)
        return await self._list(request, notice=i18n.gettext("Queue “%(name)s” saved.", name=row["name"]))

    @get("/{calendar_id:int}")
    async def calendar(self, request: Req, calendar_id: PathId) -> Template:
        return await self._calendar(request, calendar_id)

    @post("/{calendar_id:int}")
    async def update(self, request: Req, calendar_id: PathId) -> Template:
        form = await request.form()
        try:
            await calendars.save_calendar(request.user, calendar_in(form), calendar_id)
        except DomainError as exc:
            return await self._calendar(request, calendar_id, error=exc.labelled, status=exc.status_code)
        return await self._calendar(request, calendar_id, notice=i18n.gettext("Saved."))

    @post("/{calendar_id:int}/delete")
    async def delete(self, request: Req, calendar_id: PathId) -> Template:
        try:
            await calendars.delete_calendar(request.user, calendar_id)
        except DomainError as exc:
            return await self._calendar(request, calendar_id, error=exc.labelled, status=exc.status_code)
        return await self._list(request, notice=i18n.gettext("Calendar deleted."))

    @post("/{calendar_id:int}/closed-dates")
    async def add_closed(self, request: Req, calendar_id: PathId) -> Template:
        form = await request.form()
        try:
            await calendars.add_closed_date(request.user, calendar_id, str(form.get("day", "")),
                                           str(form.get("name", "")))
        except DomainError as exc:
            return await self._calendar(request, calendar_id, error=exc.labelled, status=exc.status_code)
        return await self._calendar(request, calendar_id, notice=i18n.gettext("Saved."))

    @post("/{calendar_id:int}/closed-dates/{closed_id:int}/delete")
    async def remove_closed(self, request: Req, calendar_id: PathId, closed_id: PathId) -> Template:
        try:
            await calendars.remove_closed_date(request.user, calendar_id, closed_id)
        except DomainError as exc:
            return await self._calendar(request, calendar_id, error=exc.labelled, status=exc.status_code)
        return await self._calendar(request, calendar_id, notice=i18n.gettext("Saved."))

    @post("/{calendar_id:int}/overrides")
    async def add_override(self, request: Req, calendar_id: PathId) -> Template:
        form = await request.form()
        try:
            await calendars.set_override(request.user, calendar_id, str(form.get("day", "")),
                                        str(form.get("name", "")),
                                        parse_day(str(form.get("intervals", "")), "intervals"))
        except DomainError as exc:
            return await self._calendar(request, calendar_id, error=exc.labelled, status=exc.status_code)
        return await self._calendar(request, calendar_id, notice=i18n.gettext("Saved."))

    @post("/{calendar_id:int}/overrides/{override_id:int}/delete")
    async def remove_override(self, request: Req, calendar_id: PathId, override_id: PathId) -> Template:
        try:
            await calendars.remove_override(request.user, calendar_id, override_id)
        except DomainError as exc:
            return await self._calendar(request, calendar_id, error=exc.labelled, status=exc.status_code)
        return await self._calendar(request, calendar_id, notice=i18n.gettext("Saved."))
