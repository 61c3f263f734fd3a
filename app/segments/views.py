"""Segment pages under /t/{slug}/segments: the list with counts, the builder (the automation builder's condition
editor, frontend/static/js/conditions.js) with a live count, static lists (members, CSV import), and the
temperature rules settings page."""

from __future__ import annotations

import json
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.contacts import services as contacts
from app.lib import conditions
from app.lib.errors import DomainError, Invalid
from app.lib.i18n import gettext
from app.lib.imports import read_upload
from app.lib.templates import flash, render_page
from app.lib.wire import PathId
from app.segments import fields, services, temperature
from realtime import current_id

Req = Request[Principal, Any, Any]


def catalogue(segments: list[dict[str, Any]]) -> dict[str, Any]:
    """What the builder offers, in the viewer's language (the automation builder's catalogue shape)."""
    return {
        "entities": {"contact": gettext("Contact"), "upsell": gettext("Upsell")},
        "fields": [{"path": f.path, "label": gettext(f.label), "kind": f.kind, "options": list(f.options),
                    "entity": f.path.split(".")[0]} for f in fields.SEGMENT_FIELDS],
        "ops": {k: gettext(v) for k, v in conditions.OPS.items() if k != "time_between"},
        "kind_ops": fields.KIND_OPS,
        "fieldless": ["has_tag"],
        "segments": [{"id": s["id"], "name": s["name"]} for s in segments],
    }


def _definition(form: Any) -> Any:
    raw = str(form.get("definition") or "")
    try:
        return json.loads(raw) if raw else {"all": []}
    except ValueError:
        raise Invalid("The definition could not be read; reload the page.", field="definition") from None


def _ticked(form: Any) -> list[int]:
    ids = [int(v) for v in form.getall("contact_id", []) if str(v).isdigit()]
    if not ids:
        raise Invalid("Tick at least one contact.", field="contact_id")
    return ids


def _slug(request: Req) -> str:
    return str(request.scope["state"]["tenant"].slug)


class SegmentViews(Controller):
    path = "/segments"
    include_in_schema = False
    guards = [requires("supervisor")]

    @get("/")
    async def index(self, request: Req) -> Template:
        rows = await services.list_segments()
        counts = await services.counts([r["id"] for r in rows])
        return render_page(request, "pages/segments.html", {"segments": rows, "counts": counts, "live": True,
                                                            "last_event_id": await current_id()})

    async def _builder(self, request: Req, seg: dict[str, Any] | None, *, draft: dict[str, Any] | None = None,
                       error: str | None = None, status_code: int = 200) -> Template:
        others = [s for s in await services.list_segments() if not seg or s["id"] != seg["id"]]
        values = draft or seg or {"name": "", "kind": "dynamic", "definition": {"all": []}, "description": ""}
        count = None
        if seg and not draft:
            count = await services.count(seg["id"])
        members: list[dict[str, Any]] = []
        if seg and seg["kind"] == "static":
            ids, _ = await services.contact_page(seg["id"], limit=200)
            members = await contacts.cards(ids)
        return render_page(request, "pages/segment.html", {
            "seg": seg, "values": values, "definition_json": json.dumps(values.get("definition") or {"all": []}),
            "catalogue": catalogue(others), "count": count, "error": error, "members": members},
            status_code=status_code)

    @get("/new")
    async def new(self, request: Req, kind: FromQuery[str] = "dynamic") -> Template:
        draft = {"name": "", "kind": "static" if kind == "static" else "dynamic", "definition": {"all": []},
                 "description": ""}
        return await self._builder(request, None, draft=draft)

    @get("/{segment_id:int}")
    async def edit(self, request: Req, segment_id: PathId) -> Template:
        return await self._builder(request, await services.get(segment_id))

    @post("/save")
    async def save(self, request: Req, segment_id: FromQuery[int | None] = None) -> Template | Redirect:
        form = await request.form()
        seg = None
        draft = {"name": str(form.get("name") or ""), "kind": str(form.get("kind") or "dynamic"),
                 "description": str(form.get("description") or ""), "definition": {"all": []}}
        try:
            seg = await services.get(segment_id) if segment_id else None
            draft["definition"] = _definition(form)
            if seg:
                values: dict[str, Any] = {"name": draft["name"], "description": draft["description"]}
                if seg["kind"] == "dynamic":
                    values["definition"] = draft["definition"]
                saved = await services.update(request.user, seg["id"], values)
            else:
                saved = await services.create(request.user, name=draft["name"], definition=draft["definition"],
                                              kind=draft["kind"], description=draft["description"])
        except DomainError as exc:
            return await self._builder(request, seg, draft=draft, error=exc.labelled, status_code=exc.status_code)
        return Redirect(f"/t/{_slug(request)}/segments/{saved['id']}", status_code=303)

    @post("/preview")
    async def preview(self, request: Req, segment_id: FromQuery[int | None] = None) -> Template:
        """The builder's live count (htmx, debounced)."""
        form = await request.form()
        try:
            count = await services.preview(_definition(form), editing=segment_id)
        except DomainError as exc:
            return render_page(request, "_partials/segment_count.html", {"count": None, "error": exc.labelled})
        return render_page(request, "_partials/segment_count.html", {"count": count, "error": None})

    @post("/{segment_id:int}/delete")
    async def delete(self, request: Req, segment_id: PathId) -> Template | Redirect:
        try:
            await services.delete(request.user, segment_id)
        except DomainError as exc:
            return flash(request, exc.labelled, ok=False, status=exc.status_code)
        return Redirect(f"/t/{_slug(request)}/segments/", status_code=303)

    @post("/selection")
    async def selection(self, request: Req) -> Template | Redirect:
        """The contacts list's ticked contacts onto a static list."""
        form = await request.form()
        segment_id = str(form.get("segment_id") or "")
        try:
            if not segment_id.isdigit():
                raise Invalid("Choose a list.", field="segment_id")
            await services.add_members(request.user, int(segment_id), _ticked(form), "selection")
        except DomainError as exc:
            return flash(request, exc.labelled, ok=False, status=exc.status_code)
        return Redirect(f"/t/{_slug(request)}/segments/{segment_id}", status_code=303)

    @post("/{segment_id:int}/remove")
    async def remove(self, request: Req, segment_id: PathId) -> Template | Redirect:
        form = await request.form()
        try:
            await services.remove_members(request.user, segment_id, _ticked(form))
        except DomainError as exc:
            return flash(request, exc.labelled, ok=False, status=exc.status_code)
        return Redirect(f"/t/{_slug(request)}/segments/{segment_id}", status_code=303)

    @post("/{segment_id:int}/import")
    async def import_list(self, request: Req, segment_id: PathId) -> Template:
        form = await request.form()
        upload = form.get("file")
        try:
            _, content = await read_upload(upload if isinstance(upload, UploadFile) else None)
            result = await services.import_members(request.user, segment_id, content)
        except DomainError as exc:
            return flash(request, exc.labelled, ok=False, status=exc.status_code)
        return flash(request, gettext("Added %(added)s contacts; %(unmatched)s phones or emails named nobody.",
                                      added=result["added"], unmatched=result["unmatched"]), ok=True)


class TemperatureViews(Controller):
    path = "/settings/temperature"
    include_in_schema = False
    guards = [requires("admin")]

    @get("/")
    async def index(self, request: Req) -> Template:
        return render_page(request, "pages/temperature_rules.html", {"rules": await temperature.rules(),
                                                                     "error": None})

    @post("/")
    async def save(self, request: Req) -> Template | Redirect:
        form = await request.form()
        values: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in temperature.RULE_FIELDS}
        values["enabled"] = form.get("enabled") == "1"
        try:
            await temperature.save_rules(request.user, values)
        except DomainError as exc:
            return render_page(request, "pages/temperature_rules.html",
                               {"rules": {**await temperature.rules(), **values}, "error": exc.labelled},
                               status_code=exc.status_code)
        return Redirect(f"/t/{_slug(request)}/settings/temperature", status_code=303)


class TemperatureCardViews(Controller):
    """The card's "back to automatic" button (any signed-in colleague may hand a value back to the rules)."""

    path = "/contacts/{contact_id:int}/temperature"
    include_in_schema = False

    @post("/automatic", guards=[requires("operator")])
    async def automatic(self, request: Req, contact_id: PathId) -> Redirect | Response[None]:
        """The card's button: htmx (the card may have been re-rendered live, without a form token) reloads the
        card; a plain form post comes back to it."""
        await temperature.set_automatic(request.user, contact_id)
        if request.headers.get("hx-request"):
            return Response(None, status_code=204, headers={"HX-Refresh": "true"})
        return Redirect(f"/t/{_slug(request)}/contacts/{contact_id}", status_code=303)
