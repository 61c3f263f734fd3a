"""Contact pages under /t/{slug}/contacts: list with live search and filters, the card with inline edit,
notes and the timeline (infinite scroll), and custom field settings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.accounts import services as accounts
from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts import fields, services
from app.contacts import fields_spec as spec
from app.contacts.api import parse_custom_filter
from app.contacts.queries import SORTS, ContactFilter
from app.contacts.tables import TEMPERATURES
from app.lib.errors import DomainError
from app.lib.forms import ticked
from app.lib.templates import render_page
from app.lib.wire import PathId, QueryInt
from app.timeline import services as timeline
from app.timeline.tables import CHANNELS
from realtime import current_id

Req = Request[Principal, Any, Any]
SECTIONS = spec.SECTIONS


def _date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
    except ValueError:
        return None


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def _read(form: Any, f: spec.ContactField) -> Any:
    """A built-in field's value from the card's form, by its kind."""
    raw = form.get(f.name)
    if f.kind == "list":
        return _split(raw or "")
    if f.kind == "user":
        return int(raw) if str(raw or "").isdigit() else None
    if f.kind in ("choice", "date"):
        return raw or None
    return raw if raw is not None else ""


class ContactViews(Controller):
    path = "/contacts"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def index(self, request: Req, q: FromQuery[str] = "", tag: FromQuery[str] = "",
                    temperature: FromQuery[str] = "", owner_id: FromQuery[str] = "", custom: FromQuery[str] = "",
                    last_from: FromQuery[str] = "", last_to: FromQuery[str] = "", sort: FromQuery[str] = "updated",
                    segment: FromQuery[str] = "", offset: QueryInt = 0) -> Template:
        params = {"q": q, "tag": tag, "temperature": temperature, "owner_id": owner_id, "custom": custom,
                  "last_from": last_from, "last_to": last_to, "sort": sort, "segment": segment}
        error = None
        try:
            f = ContactFilter(q=q, tag=tag or None, temperature=temperature or None,
                              owner_id=int(owner_id) if owner_id.isdigit() else None,
                              custom=parse_custom_filter([custom] if custom else None),
                              last_contact_from=_date(last_from), last_contact_to=_date(last_to),
                              sort=sort if sort in SORTS else "updated",
                              segment=int(segment) if segment.isdigit() else None)
            rows, nxt = await services.search(f, limit=50, offset=offset)
        except DomainError as exc:
            rows, nxt, error = [], None, exc.detail
        ctx = {"contacts": rows, "next": nxt, "params": params, "error": error, "temperatures": TEMPERATURES,
               "sorts": SORTS, "users": await accounts.list_users(), "segments": await services.segment_choices()}
        if request.headers.get("hx-request") and request.headers.get("hx-target") in ("contact-rows", None):
            return render_page(request, "_partials/contact_rows.html", ctx)
        return render_page(request, "pages/contacts.html", ctx)

    @get("/new")
    async def new(self, request: Req) -> Template:
        return render_page(request, "pages/contact_new.html", {"form": {}, "error": None,
                                                               "new_fields": spec.new_form()})

    @post("/")
    async def create(self, request: Req, slug: FromPath[str]) -> Template | Redirect:
        form = await request.form()
        values = {f.name: _read(form, f) for f in spec.new_form()}
        try:
            card = await services.create(request.user, values)
        except DomainError as exc:
            return render_page(request, "pages/contact_new.html", {"form": dict(form), "error": exc.detail,
                                                                   "new_fields": spec.new_form()},
                               status_code=exc.status_code)
        return Redirect(f"/t/{slug}/contacts/{card['id']}", status_code=303)

    async def _card_context(self, contact_id: int, channel: str | None = None) -> dict[str, Any]:
        card = await services.get(contact_id)
        items, nxt = await timeline.page(contact_id, channel=channel or None, limit=30)
        return {"c": card, "items": items, "next": nxt, "channel": channel or "", "channels": CHANNELS,
                "fields": await fields.definitions(), "users": await accounts.list_users(),
                "temperatures": TEMPERATURES, "card_fields": spec.CARD, "error": None}

    @get("/{contact_id:int}")
    async def card(self, request: Req, contact_id: PathId) -> Template:
        ctx = await self._card_context(contact_id)
        # Live: edits and notes by others arrive over the page's websocket (watching this contact's channel).
        ctx.update(live=True, live_watch=f"contact:{contact_id}", last_event_id=await current_id())
        return render_page(request, "pages/contact.html", ctx)

    @get("/{contact_id:int}/timeline")
    async def timeline_page(self, request: Req, contact_id: PathId,
                            channel: FromQuery[str] = "", before: FromQuery[str | None] = None) -> Template:
        items, nxt = await timeline.page(contact_id, channel=channel or None, before=before, limit=30)
        return render_page(request, "_partials/timeline_items.html",
                           {"c": {"id": contact_id}, "items": items, "next": nxt, "channel": channel})

    @get("/{contact_id:int}/section/{section:str}")
    async def section(self, request: Req, contact_id: PathId, section: FromPath[str],
                      edit: FromQuery[bool] = False) -> Template:
        ctx = await self._card_context(contact_id)
        ctx.update(section=section if section in SECTIONS else "main", edit=edit)
        return render_page(request, "_partials/contact_section.html", ctx)

    @post("/{contact_id:int}/section/{section:str}")
    async def save_section(self, request: Req, contact_id: PathId,
                           section: FromPath[str]) -> Template:
        form = await request.form()
        values: dict[str, Any] = {f.name: _read(form, f) for f in spec.in_section(section) if f.kind != "custom"}
        if section == "custom":
            defs = await fields.definitions()
            values = {"custom": {d["key"]: (ticked(form, f"custom.{d['key']}") if d["kind"] == "multiselect"
                                            else ("true" if form.get(f"custom.{d['key']}") else "false")
                                            if d["kind"] == "boolean" else form.get(f"custom.{d['key']}", ""))
                                 for d in defs}}
        version = int(form["version"]) if str(form.get("version", "")).isdigit() else None
        error, status = None, 200
        try:
            await services.update(request.user, contact_id, values, version=version)
        except DomainError as exc:
            error, status = exc.detail, exc.status_code
        ctx = await self._card_context(contact_id)
        ctx.update(section=section if section in SECTIONS else "main", edit=error is not None, error=error,
                   submitted=dict(form) if error else None)
        return render_page(request, "_partials/contact_section.html", ctx, status_code=status)

    @post("/{contact_id:int}/notes")
    async def add_note(self, request: Req, contact_id: PathId) -> Template:
        form = await request.form()
        error, status = None, 200
        try:
            await services.add_note(request.user, contact_id, str(form.get("body", "")))
        except DomainError as exc:
            error, status = exc.detail, exc.status_code
        ctx = await self._card_context(contact_id)
        ctx["error"] = error
        return render_page(request, "_partials/timeline.html", ctx, status_code=status)


class CustomFieldViews(Controller):
    path = "/settings/fields"
    include_in_schema = False
    guards = [requires("admin")]

    @get("/")
    async def index(self, request: Req) -> Template:
        return render_page(request, "pages/custom_fields.html", {"defs": await fields.definitions(),
                                                                 "kinds": fields.KINDS, "error": None})

    @post("/")
    async def create(self, request: Req, slug: FromPath[str]) -> Template | Redirect:
        form = await request.form()
        try:
            await fields.create(request.user, key=str(form.get("key", "")), label=str(form.get("label", "")),
                                kind=str(form.get("kind", "")), options=_split(str(form.get("options", ""))),
                                required=bool(form.get("required")), unique=bool(form.get("unique")), position=0)
        except DomainError as exc:
            return render_page(request, "pages/custom_fields.html",
                               {"defs": await fields.definitions(), "kinds": fields.KINDS, "error": exc.detail},
                               status_code=exc.status_code)
        return Redirect(f"/t/{slug}/settings/fields", status_code=303)

    @post("/{field_id:int}/archive")
    async def archive(self, request: Req, slug: FromPath[str], field_id: PathId) -> Redirect:
        await fields.archive(request.user, field_id)
        return Redirect(f"/t/{slug}/settings/fields", status_code=303)
