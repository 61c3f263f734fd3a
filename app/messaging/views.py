"""Email pages: the admin's settings (with "send test email") and the operator's compose form on a contact."""

from __future__ import annotations

import base64
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts import services as contacts
from app.lib.errors import DomainError
from app.lib.forms import fields
from app.lib.templates import render_page
from app.messaging import config, outbound, templates

Req = Request[Principal, Any, Any]
SETTINGS_PAGE = "pages/email_settings.html"
COMPOSE_PAGE = "pages/email_compose.html"


class EmailSettingsViews(Controller):
    path = "/t/{slug:str}/settings/email"
    include_in_schema = False
    guards = [requires("admin")]

    async def _context(self, *, error: str | None = None, notice: str | None = None,
                       form: dict[str, Any] | None = None) -> dict[str, Any]:
        view = await config.public_view()
        return {"cfg": view, "error": error, "notice": notice, "form": form or {
            k: view.get(k, "") for k in ("smtp_host", "smtp_port", "smtp_tls", "smtp_user", "from_address",
                                          "from_name")}}

    @get("/")
    async def page(self, request: Req, slug: FromPath[str]) -> Template:
        return render_page(request, SETTINGS_PAGE, await self._context())

    @post("/")
    async def save(self, request: Req, slug: FromPath[str]) -> Template:
        form = await fields(request, "smtp_host", "smtp_port", "smtp_tls", "smtp_user", "smtp_password",
                            "from_address", "from_name")
        try:
            await config.save(request.user, dict(form))
        except DomainError as exc:
            label = f"{exc.field}: " if exc.field else ""
            return render_page(request, SETTINGS_PAGE, await self._context(error=label + exc.detail, form=form),
                               status_code=exc.status_code)
        return render_page(request, SETTINGS_PAGE, await self._context(notice="Saved."))

    @post("/test")
    async def test(self, request: Req, slug: FromPath[str]) -> Template:
        form = await fields(request, "to")
        try:
            result = await outbound.send_test(request.user, form["to"])
        except DomainError as exc:
            result = {"ok": False, "to": form["to"], "error": exc.detail}
        return render_page(request, "_partials/email_test_result.html", {"result": result})


class EmailComposeViews(Controller):
    path = "/t/{slug:str}/contacts/{contact_id:int}/email"
    include_in_schema = False
    guards = [signed_in]

    async def _context(self, contact_id: int, **extra: Any) -> dict[str, Any]:
        return {"contact": await contacts.get(contact_id), "emails": await outbound.for_contact(contact_id),
                "templates": await templates.list_all(), "form": {}, **extra}

    @get("/")
    async def page(self, request: Req, slug: FromPath[str], contact_id: FromPath[int]) -> Template:
        return render_page(request, COMPOSE_PAGE, await self._context(contact_id))

    @post("/")
    async def send(self, request: Req, slug: FromPath[str], contact_id: FromPath[int]) -> Template | Redirect:
        form = await request.form()
        data: dict[str, Any] = {k: str(form.get(k) or "") for k in ("to", "subject", "body")}
        if str(form.get("template_id") or "").isdigit():
            data["template_id"] = int(str(form.get("template_id")))
        if str(form.get("reply_to") or "").isdigit():
            data["reply_to"] = int(str(form.get("reply_to")))
        data["attachments"] = [
            {"filename": f.filename, "content_type": f.content_type or "application/octet-stream",
             "data": base64.b64encode(await f.read()).decode()}
            for f in form.getall("attachments") if isinstance(f, UploadFile) and f.filename]
        try:
            await outbound.compose(request.user, contact_id, data)
        except DomainError as exc:
            label = f"{exc.field}: " if exc.field else ""
            return render_page(request, COMPOSE_PAGE, await self._context(contact_id, error=label + exc.detail,
                                                                           form=data), status_code=exc.status_code)
        return render_page(request, COMPOSE_PAGE, await self._context(contact_id, notice="Queued for sending."))
