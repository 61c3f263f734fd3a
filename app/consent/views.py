"""The consent panel of a contact's card: the ledger and a form to record an opt-in or opt-out with evidence."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.consent import services
from app.consent.tables import CHANNELS, PURPOSES, STATUSES
from app.lib import i18n
from app.lib.errors import DomainError
from app.lib.i18n import N_
from app.lib.templates import render_page
from app.lib.wire import PathId

Req = Request[Principal, Any, Any]

CHANNEL_LABELS = {"sms": N_("SMS"), "email": N_("Email"), "call": N_("Calls")}
PURPOSE_LABELS = {"marketing": N_("Marketing"), "transactional": N_("Service messages")}
STATUS_LABELS = {"opt_in": N_("Opted in"), "opt_out": N_("Opted out")}
SOURCE_LABELS = {"form": N_("Web form"), "keyword": N_("SMS keyword"), "one_click": N_("One-click unsubscribe"),
                 "operator": N_("Operator"), "import": N_("Import"), "carrier_error": N_("Carrier error")}


def labels() -> dict[str, Any]:
    t = i18n.gettext
    return {"channels": [(c, t(CHANNEL_LABELS[c])) for c in CHANNELS],
            "purposes": [(p, t(PURPOSE_LABELS[p])) for p in PURPOSES],
            "statuses": [(s, t(STATUS_LABELS[s])) for s in STATUSES],
            "channel_label": {k: t(v) for k, v in CHANNEL_LABELS.items()},
            "purpose_label": {k: t(v) for k, v in PURPOSE_LABELS.items()},
            "status_label": {k: t(v) for k, v in STATUS_LABELS.items()},
            "source_label": {k: t(v) for k, v in SOURCE_LABELS.items()}}


async def panel_context(contact_id: int) -> dict[str, Any]:
    return {"contact_id": contact_id, "entries": await services.ledger(contact_id), **labels()}


class ConsentViews(Controller):
    path = "/contacts/{contact_id:int}/consent"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def panel(self, request: Req, contact_id: PathId) -> Template:
        return render_page(request, "_partials/consent_card.html", await panel_context(contact_id))

    @post("/")
    async def record(self, request: Req, contact_id: PathId) -> Template:
        form = await request.form()
        try:
            await services.record(contact_id, str(form.get("channel", "")), str(form.get("purpose", "")),
                                  str(form.get("status", "")), "operator", str(form.get("evidence", "")),
                                  recorded_by=request.user.user_id)
        except DomainError as exc:
            return render_page(request, "_partials/consent_card.html",
                               {**await panel_context(contact_id), "error": exc.labelled},
                               status_code=exc.status_code)
        return render_page(request, "_partials/consent_card.html", await panel_context(contact_id))


class ConsentSettingsViews(Controller):
    """/t/{slug}/settings/consent (admins): marketing needs an opt-in?, the shop's own SMS stop/start words."""

    path = "/settings/consent"
    include_in_schema = False
    guards = [requires("admin")]

    async def _page(self, request: Req, *, error: str | None = None, notice: str | None = None,
                    status: int = 200) -> Template:
        return render_page(request, "pages/consent_settings.html",
                           {"settings": await services.settings(), "error": error, "notice": notice,
                            "standard_stop": services.STANDARD_STOP_WORDS,
                            "standard_start": services.STANDARD_START_WORDS}, status_code=status)

    @get("/")
    async def page(self, request: Req) -> Template:
        return await self._page(request)

    @post("/")
    async def save(self, request: Req) -> Template:
        form = await request.form()
        try:
            await services.save_settings(
                request.user, marketing_needs_opt_in=str(form.get("marketing_needs_opt_in", "")) == "on",
                stop_words=_split(form.get("stop_words")), start_words=_split(form.get("start_words")))
        except DomainError as exc:
            return await self._page(request, error=exc.labelled, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("Consent settings saved."))


def _split(raw: Any) -> list[str]:
    return [w for w in str(raw or "").replace(";", ",").split(",")]
