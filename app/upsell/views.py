"""Upsell pages: the suggestions panel of a contact's card and of the console's conversation (each render records
'shown', once a day per contact and product; buttons record 'offered' and 'accepted'), and the report page with the
pairs, the figures and the shop's thresholds (/t/{slug}/upsell/)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.lib import i18n
from app.lib.errors import DomainError, Invalid
from app.lib.i18n import N_
from app.lib.templates import render_page
from app.lib.wire import PathId
from app.upsell import services
from app.upsell.tables import EVENT_SOURCES

Req = Request[Principal, Any, Any]
PANEL = "_partials/upsell_panel.html"
PAGE = "pages/upsell.html"
KIND_LABELS = {"pair": N_("Also bought"), "reorder": N_("Reorder")}
EVENT_LABELS = {"offered": N_("Offered"), "accepted": N_("Accepted")}


def _source(value: Any) -> str:
    return str(value) if str(value) in ("card", "console") else "card"


async def panel_context(contact_id: int, source: str, ref: str, *, record_shown: bool = True) -> dict[str, Any]:
    items = await services.contact_suggestions(contact_id)
    if record_shown:
        await services.shown(contact_id, items, source, ref)
    return {"contact_id": contact_id, "suggestions": items, "source": source, "ref": ref,
            "kind_label": {k: i18n.gettext(v) for k, v in KIND_LABELS.items()}}


class UpsellPanelViews(Controller):
    path = "/contacts/{contact_id:int}/upsell"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def panel(self, request: Req, contact_id: PathId) -> Template:
        source = _source(request.query_params.get("source", "card"))
        ref = str(request.query_params.get("ref", ""))[:64]
        return render_page(request, PANEL, await panel_context(contact_id, source, ref))

    @post("/events")
    async def event(self, request: Req, contact_id: PathId) -> Template:
        form = await request.form()
        source, ref = _source(form.get("source", "card")), str(form.get("ref", ""))[:64]
        kind = str(form.get("kind", ""))
        try:
            if kind not in EVENT_LABELS:
                raise Invalid("kind must be one of: %(choices)s.", field="kind", choices="offered, accepted")
            await services.record(contact_id, str(form.get("product_key", "")), kind, source, ref)
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            return render_page(request, PANEL, {**await panel_context(contact_id, source, ref, record_shown=False),
                                                "error": exc.labelled}, status_code=exc.status_code)
        notice = i18n.gettext("Recorded: %(what)s.", what=i18n.gettext(EVENT_LABELS[kind]).lower())
        return render_page(request, PANEL, {**await panel_context(contact_id, source, ref, record_shown=False),
                                            "notice": notice, "done": {str(form.get("product_key", "")): kind}})


class UpsellViews(Controller):
    path = "/upsell"
    include_in_schema = False
    guards = [requires("supervisor")]

    async def _page(self, request: Req, *, days: int = 30, error: str | None = None, notice: str | None = None,
                    status: int = 200) -> Template:
        return render_page(request, PAGE, {"report": await services.report(days),
                                           "category_pairs": await services.pairs("category"),
                                           "settings": await services.settings(), "error": error, "notice": notice,
                                           "sources": EVENT_SOURCES}, status_code=status)

    @get("/")
    async def page(self, request: Req) -> Template:
        raw = str(request.query_params.get("days", "30"))
        days = int(raw) if raw.isdigit() and 1 <= int(raw) <= 3650 else 30
        return await self._page(request, days=days)

    @post("/settings", guards=[requires("admin")])
    async def save_settings(self, request: Req) -> Template:
        form = await request.form()
        try:
            await services.save_settings({k: str(form.get(k, "")).strip().replace(",", ".")
                                          for k in services.SETTINGS_FIELDS})
        except DomainError as exc:
            return await self._page(request, error=exc.labelled, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("Upsell settings saved."))

    @post("/recompute", guards=[requires("admin")])
    async def recompute(self, request: Req) -> Template:
        counts = await services.recompute()
        return await self._page(request, notice=i18n.ngettext(
            "Recomputed: %(num)s pair.", "Recomputed: %(num)s pairs.", counts["pairs"]))


async def console_callers(ctx: dict[str, Any]) -> dict[str, Any]:
    """Console extra: `upsell_of` {contact id: the best current suggestion} for the callers waiting in the queue, shown
    on the caller panel of a call item (one query per render, shared by every console that sees the queue). Not
    recorded as shown: a queue is on everyone's screen; the operator who takes the call gets the full panel beside
    the conversation, which records it."""
    ids = [int(c["contact_id"]) for c in ctx.get("waiting", []) if c.get("channel") == "call" and c.get("contact_id")]
    if not ids:
        return {"upsell_of": {}}
    found = await services.suggestions_for(ids, limit=1)
    return {"upsell_of": {contact: items[0] for contact, items in found.items() if items}}
