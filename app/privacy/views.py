"""Privacy pages: the card's privacy panel (export, erase, legal hold), the admins' "Data requests" page and the
retention settings with their dry run."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Template

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.lib import i18n
from app.lib.errors import DomainError, Forbidden, Invalid
from app.lib.i18n import N_
from app.lib.templates import render_page
from app.lib.wire import PathId
from app.privacy import retention, services

Req = Request[Principal, Any, Any]

KIND_LABELS = {"export": N_("Export"), "erase": N_("Erasure")}
STATUS_LABELS = {"queued": N_("Queued"), "running": N_("Running"), "done": N_("Done"), "failed": N_("Failed"),
                 "refused": N_("Refused")}
CLASS_LABELS = {"recordings": N_("Call recordings"), "messages": N_("Messages (SMS, chat, email bodies)"),
                "attachments": N_("Attachments and files"), "closed_conversations": N_("Closed conversations"),
                "raw_inbound": N_("Raw webhooks and raw mails"), "webhook_deliveries": N_("Webhook deliveries"),
                "event_log": N_("Event log"), "audit": N_("Audit entries")}
ACTION_LABELS = {"delete": N_("Delete"), "anonymise": N_("Anonymise")}


def labels() -> dict[str, Any]:
    t = i18n.gettext
    return {"kind_label": {k: t(v) for k, v in KIND_LABELS.items()},
            "status_label": {k: t(v) for k, v in STATUS_LABELS.items()},
            "class_label": {k: t(v) for k, v in CLASS_LABELS.items()},
            "action_label": {k: t(v) for k, v in ACTION_LABELS.items()}}


async def panel_context(contact_id: int) -> dict[str, Any]:
    await services._contact_exists(contact_id)
    return {"contact_id": contact_id, "hold": await services.legal_hold(contact_id),
            "requests": await services.list_requests(limit=10, contact_id=contact_id), **labels()}


def _admin(request: Req) -> None:
    if not request.user.has_role("admin"):
        raise Forbidden("This needs the %(role)s role or higher; you are %(yours)s.", role="admin",
                        yours=request.user.role)


class ContactPrivacyViews(Controller):
    """The privacy panel of a contact's card (supervisors see it; erasure and holds are for admins)."""

    path = "/contacts/{contact_id:int}/privacy"
    include_in_schema = False
    guards = [requires("supervisor")]

    async def _answer(self, request: Req, contact_id: int, action: Any, notice: str) -> Template:
        try:
            await action()
        except DomainError as exc:
            return render_page(request, "_partials/privacy_card.html",
                               {**await panel_context(contact_id), "error": exc.labelled},
                               status_code=exc.status_code)
        return render_page(request, "_partials/privacy_card.html",
                           {**await panel_context(contact_id), "notice": notice})

    @get("/")
    async def panel(self, request: Req, contact_id: PathId) -> Template:
        return render_page(request, "_partials/privacy_card.html", await panel_context(contact_id))

    @post("/export")
    async def export(self, request: Req, contact_id: PathId) -> Template:
        async def act() -> None:
            await services.request_export(request.user, contact_id)
        return await self._answer(request, contact_id, act,
                                  i18n.gettext("Export requested: the zip will be ready in the list below."))

    @post("/erase")
    async def erase(self, request: Req, contact_id: PathId) -> Template:
        form = await request.form()

        async def act() -> None:
            _admin(request)
            if str(form.get("confirm", "")).strip() != str(contact_id):
                raise Invalid("Type the contact's number (%(contact_id)s) to confirm the erasure.", field="confirm",
                              contact_id=contact_id)
            await services.erase(request.user, contact_id)
        return await self._answer(request, contact_id, act, i18n.gettext("The contact's personal data was erased."))

    @post("/hold")
    async def hold(self, request: Req, contact_id: PathId) -> Template:
        form = await request.form()

        async def act() -> None:
            _admin(request)
            await services.set_legal_hold(request.user, contact_id, str(form.get("reason", "")))
        return await self._answer(request, contact_id, act, i18n.gettext("Legal hold set."))

    @post("/hold/release")
    async def release(self, request: Req, contact_id: PathId) -> Template:
        form = await request.form()

        async def act() -> None:
            _admin(request)
            await services.clear_legal_hold(request.user, contact_id, str(form.get("reason", "")))
        return await self._answer(request, contact_id, act, i18n.gettext("Legal hold lifted."))


class DataRequestViews(Controller):
    """Admins: every export and erasure, with who asked, when, the due date and the outcome."""

    path = "/privacy/requests"
    include_in_schema = False
    guards = [requires("admin")]

    @get("/")
    async def index(self, request: Req) -> Template:
        return render_page(request, "pages/privacy_requests.html",
                           {"requests": await services.list_requests(), **labels()})


async def retention_context() -> dict[str, Any]:
    return {"policies": await retention.policies(), **labels()}


class RetentionViews(Controller):
    """Admins: retention per data class, with a dry-run count before enabling."""

    path = "/settings/retention"
    include_in_schema = False
    guards = [requires("admin")]

    @get("/")
    async def index(self, request: Req) -> Template:
        return render_page(request, "pages/retention.html", await retention_context())

    @get("/{data_class:str}/dry-run")
    async def dry_run(self, request: Req, data_class: FromPath[str]) -> Template:
        raw = str(request.query_params.get("keep_days", "")).strip()
        try:
            keep = _days(raw)
            count = await retention.dry_run(data_class, keep)
        except DomainError as exc:
            return render_page(request, "_partials/messages.html", {"error": exc.labelled},
                               status_code=exc.status_code)
        return render_page(request, "_partials/messages.html", {"notice": i18n.gettext(
            "%(count)s rows would be purged now.", count=count)})

    @post("/{data_class:str}")
    async def save(self, request: Req, data_class: FromPath[str]) -> Template:
        form = await request.form()
        try:
            await retention.save(request.user, data_class, keep_days=_days(str(form.get("keep_days", "")).strip()),
                                 action=str(form.get("action", "delete")), enabled=form.get("enabled") == "on")
        except DomainError as exc:
            return render_page(request, "pages/retention.html", {**await retention_context(), "error": exc.labelled},
                               status_code=exc.status_code)
        return render_page(request, "pages/retention.html",
                           {**await retention_context(), "notice": i18n.gettext("Retention policy saved.")})


def _days(raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 6:
        raise Invalid("keep_days must be 1 to 36500, or empty to keep forever.", field="keep_days")
    return int(raw)
