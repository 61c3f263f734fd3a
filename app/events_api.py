"""The event spine over HTTP: the tenant's event log paged for integrators who poll (`GET /api/v1/events`), the
catalogue of event names, and the durable listeners for admins (cursor, lag, state, last error; resume), as JSON
under /t/{slug}/api/v1 and as a settings page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.lib.domain import Domain
from app.lib.errors import Invalid, NotFound
from app.lib.templates import render_page
from realtime import durable
from realtime import log as event_log
from realtime.events import CATALOGUE

Req = Request[Principal, Any, Any]
MAX_PAGE = 500


class EventOut(msgspec.Struct):
    """One event. Its `position` (`"<tx>.<id>"`: the writing transaction, then the event id) orders the log; pass
    the last one you handled as `after`. Treat it as an opaque string: compare nothing, echo it back."""

    id: int
    """Unique in the tenant (a sequence: not in commit order, and with gaps); use it to deduplicate."""
    position: str
    """The cursor: everything after it comes in later pages, nothing before it ever appears later."""
    name: str
    """One of the names in GET /api/v1/events/catalogue."""
    at: dt.datetime
    data: dict[str, Any]
    """Ids and short codes only: load what you need through the rest of the API."""


class EventPage(msgspec.Struct):
    """A page of events in log order. Only events whose transaction and every older one have ended are served,
    so a page never misses one that commits later: poll with `after=next` and you get each event exactly once."""

    items: list[EventOut]
    next: str
    """The `after` for your next call, a position string (the same value when nothing new came)."""
    oldest: str | None
    """The position of the oldest event still kept (None: the log is empty). A cursor whose events were trimmed
    meanwhile is refused with 400; `after=0.0` always starts from the oldest event still kept."""


class CatalogueEntry(msgspec.Struct):
    name: str
    doc: str
    fields: list[str]
    """The payload's fields (`data`); ones ending in `?` are not always present."""


def _catalogue() -> list[CatalogueEntry]:
    """Declared events minus the live-only ones (typing indicators, presence), which the log API does not serve."""
    return [CatalogueEntry(name=t.name, doc=t.doc, fields=[f.name + ("" if f.required else "?")
                                                          for f in msgspec.structs.fields(t.payload)])
            for name, t in sorted(CATALOGUE.items()) if not t.ephemeral]


def _described() -> str:
    return "Events, oldest first, after `after`. Names:\n\n" + "\n".join(
        f"- `{e.name}` ({', '.join(e.fields)}): {e.doc}" for e in _catalogue())


class ListenerOut(msgspec.Struct):
    name: str
    doc: str
    cursor: str
    """The position of the last event it handled (`"<tx>.<id>"`)."""
    lag: int
    """Events after the cursor that this listener still has to handle."""
    state: str
    """`active` or `parked` (an admin resumes it)."""
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str
    updated_at: dt.datetime


async def _listeners() -> list[ListenerOut]:
    return [ListenerOut(**{f: r[f] for f in ListenerOut.__struct_fields__})
            for r in await durable.status(durable.docs())]


class EventsApi(Controller):
    path = "/api/v1"
    tags = ["events"]
    guards = [signed_in]

    @get("/events", summary="The tenant's event log, oldest first, after a cursor (poll instead of webhooks)",
         description=_described())
    async def events(self, after: FromQuery[str] = "0.0", limit: FromQuery[int] = 100) -> EventPage:
        cursor = event_log.position_of(after)
        if cursor is None:
            raise Invalid("after must be 0.0 or the position (next) of a page you received, like 1234.56.",
                          field="after")
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid("limit must be between 1 and %(max_page)s.", field="limit", max_page=MAX_PAGE)
        bounds = await event_log.bounds()
        if cursor != event_log.START and not await event_log.replayable(cursor, bounds):
            raise Invalid("Events after %(after)s are no longer kept (or the position is not from this workspace): "
                          "start again from 0.0 or from the next of a fresh page.", field="after", after=after)
        rows = await event_log.read(cursor, upto=bounds.last, names=[e.name for e in _catalogue()], limit=limit)
        # Live-only events are skipped, but the cursor moves past them: to the end when the page is not full.
        end = rows[-1].position if len(rows) == limit else max(cursor, bounds.last)
        return EventPage(items=[EventOut(id=e.id, position=str(e.position), name=e.name, at=e.at, data=e.data)
                                for e in rows],
                         next=str(end), oldest=None if bounds.oldest is None else str(bounds.oldest))

    @get("/events/catalogue", summary="Every event name with what it announces")
    async def catalogue(self) -> list[CatalogueEntry]:
        return _catalogue()

    @get("/listeners", guards=[requires("admin")], summary="Durable listeners: cursor, lag, state, last error")
    async def listeners(self) -> list[ListenerOut]:
        return await _listeners()

    @post("/listeners/{name:str}/resume", guards=[requires("admin")], status_code=200,
          summary="Resume a parked listener (or retry a backing-off one now)")
    async def resume(self, name: FromPath[str]) -> ListenerOut:
        if not await durable.resume(name):
            raise NotFound("No listener %(name)s.", name=repr(name))
        return next(li for li in await _listeners() if li.name == name)


class ListenerViews(Controller):
    path = "/settings/listeners"
    include_in_schema = False
    guards = [requires("admin")]

    @get("/")
    async def page(self, request: Req) -> Template:
        return render_page(request, "pages/listeners.html", {"listeners": await _listeners()})

    @post("/{name:str}/resume")
    async def resume(self, slug: FromPath[str], name: FromPath[str]) -> Redirect:
        if not await durable.resume(name):
            raise NotFound("No listener %(name)s.", name=repr(name))
        return Redirect(f"/t/{slug}/settings/listeners/", status_code=303)


DOMAIN = Domain(name="spine", routes=(EventsApi, ListenerViews))
"""The spine's HTTP surface (the pull API and the listeners' admin page); the listeners are the domains' own."""
