"""Email pages: the admin's settings (with "send test email"), templates and canned responses, the operator's
compose form on a contact and the console's inline reply."""

from __future__ import annotations

import base64
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect, Template

from app import channels
from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts import services as contacts
from app.email import config, outbound, templates
from app.lib import i18n
from app.lib.errors import DomainError
from app.lib.forms import fields
from app.lib.templates import flash, render_page
from app.lib.wire import PathId, QueryId

Req = Request[Principal, Any, Any]
SETTINGS_PAGE = "pages/email_settings.html"
COMPOSE_PAGE = "pages/email_compose.html"
TEMPLATES_PAGE = "pages/email_templates.html"
TEMPLATE_FIELDS = ("kind", "name", "shortcut", "subject", "body")


class EmailSettingsViews(Controller):
    path = "/settings/email"
    include_in_schema = False
    guards = [requires("admin")]

    async def _context(self, *, error: str | None = None, notice: str | None = None,
                       form: dict[str, Any] | None = None) -> dict[str, Any]:
        view = await config.public_view()
        return {"cfg": view, "error": error, "notice": notice, "form": form or {
            k: view.get(k, "") for k in ("smtp_host", "smtp_port", "smtp_tls", "smtp_user", "from_address",
                                          "from_name")}}

    @get("/")
    async def page(self, request: Req) -> Template:
        return render_page(request, SETTINGS_PAGE, await self._context())

    @post("/")
    async def save(self, request: Req) -> Template:
        form = await fields(request, "smtp_host", "smtp_port", "smtp_tls", "smtp_user", "smtp_password",
                            "from_address", "from_name")
        try:
            await config.save(request.user, dict(form))
        except DomainError as exc:
            return render_page(request, SETTINGS_PAGE, await self._context(error=exc.labelled, form=form),
                               status_code=exc.status_code)
        return render_page(request, SETTINGS_PAGE, await self._context(notice=i18n.gettext("Saved.")))

    @post("/test")
    async def test(self, request: Req) -> Template:
        form = await fields(request, "to")
        try:
            result = await outbound.send_test(request.user, form["to"])
        except DomainError as exc:
            result = {"ok": False, "to": form["to"], "error": exc.detail}
        return render_page(request, "_partials/email_test_result.html", {"result": result})


class EmailComposeViews(Controller):
    path = "/contacts/{contact_id:int}/email"
    include_in_schema = False
    guards = [signed_in]

    async def _context(self, contact_id: int, reply_to: int | None = None, **extra: Any) -> dict[str, Any]:
        emails = await outbound.for_contact(contact_id)
        reply = next((e for e in emails if e["id"] == reply_to), None) if reply_to is not None else None
        return {"contact": await contacts.get(contact_id), "emails": emails, "reply": reply,
                "templates": await templates.list_all(), "form": {}, **extra}

    @get("/")
    async def page(self, request: Req, contact_id: PathId,
                   reply_to: QueryId = None) -> Template:
        """The compose form; `?reply_to=<email id>` answers that email (threading headers, "Re:" subject)."""
        return render_page(request, COMPOSE_PAGE, await self._context(contact_id, reply_to))

    @post("/")
    async def send(self, request: Req, contact_id: PathId) -> Template | Redirect:
        form = await request.form()
        data: dict[str, Any] = {k: str(form.get(k) or "") for k in ("to", "subject", "body")}
        if str(form.get("template_id") or "").isdigit():
            data["template_id"] = int(str(form.get("template_id")))
        if str(form.get("reply_to") or "").isdigit():
            data["reply_to"] = int(str(form.get("reply_to")))
        data["attachments"] = [
            {"filename": f.filename, "content_type": f.content_type or "application/octet-stream",
             "data": base64.b64encode(await f.read()).decode()}
            for f in (form.getall("attachments") if "attachments" in form else [])
            if isinstance(f, UploadFile) and f.filename]
        try:
            await outbound.compose(request.user, contact_id, data)
        except DomainError as exc:
            return render_page(request, COMPOSE_PAGE, await self._context(
                contact_id, data.get("reply_to"), error=exc.labelled, form=data), status_code=exc.status_code)
        return render_page(request, COMPOSE_PAGE, await self._context(contact_id,
                                                                      notice=i18n.gettext("Queued for sending.")))


class EmailTemplateViews(Controller):
    """Settings → Templates: email templates and canned responses (admins)."""

    path = "/settings/templates"
    include_in_schema = False
    guards = [requires("admin")]

    async def _page(self, request: Req, *, edit: int | None = None, form: dict[str, Any] | None = None,
                    error: str | None = None, notice: str | None = None, status_code: int = 200) -> Template:
        editing = None
        if edit is not None:
            editing = await templates.get(edit)
        ctx = {"items": await templates.list_all(), "editing": editing, "error": error, "notice": notice,
               "form": form or editing or {"kind": "canned"}}
        return render_page(request, TEMPLATES_PAGE, ctx, status_code=status_code)

    @get("/")
    async def page(self, request: Req, edit: QueryId = None) -> Template:
        return await self._page(request, edit=edit)

    @post("/")
    async def create(self, request: Req) -> Template:
        form = await fields(request, *TEMPLATE_FIELDS)
        try:
            row = await templates.create(request.user, dict(form))
        except DomainError as exc:
            return await self._page(request, form=form, error=exc.labelled, status_code=exc.status_code)
        return await self._page(request, notice=i18n.gettext("Saved “%(name)s”.", name=row["name"]))

    @post("/{template_id:int}")
    async def update(self, request: Req, template_id: PathId) -> Template:
        form = await fields(request, *TEMPLATE_FIELDS)
        try:
            row = await templates.update(request.user, template_id, dict(form))
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            return await self._page(request, edit=template_id, form={**form, "id": template_id},
                                    error=exc.labelled, status_code=exc.status_code)
        return await self._page(request, notice=i18n.gettext("Saved “%(name)s”.", name=row["name"]))

    @post("/{template_id:int}/delete")
    async def delete(self, request: Req, template_id: PathId) -> Template:
        row = await templates.get(template_id)
        await templates.delete(request.user, template_id)
        return await self._page(request, notice=i18n.gettext("Deleted “%(name)s”.", name=row["name"]))


class ConsoleEmailViews(Controller):
    """The console's inline reply to an email conversation (threaded onto the customer's latest email)."""

    path = "/console/email"
    include_in_schema = False
    guards = [signed_in]

    @post("/{conversation_id:int}/reply")
    async def reply(self, request: Req, conversation_id: PathId) -> Template:
        form = await fields(request, "body", "subject")
        try:
            row = await channels.get("email").send(request.user, conversation_id, form["body"],
                                                    subject=form["subject"])
        except DomainError as exc:
            return flash(request, exc.labelled, ok=False, status=exc.status_code)
        return flash(request, f"Reply “{row['subject']}” queued to {row['to_address']}.", ok=True)
