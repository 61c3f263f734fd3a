"""The admin's queues page at /t/{slug}/settings/queues: the topics customers are routed to (IVR digits, web chat,
email and SMS land in them), who sees each, their order, archiving, and their wrap-up (seconds, a required
disposition, the codes offered)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Template

from app.accounts.guards import requires
from app.accounts.services import RANK, Principal
from app.conversations import dispositions, services
from app.lib import i18n
from app.lib.errors import DomainError
from app.lib.forms import optional_int, ticked
from app.lib.templates import render_page

Req = Request[Principal, Any, Any]
PAGE = "pages/queues.html"


class QueueSettingsViews(Controller):
    path = "/settings/queues"
    include_in_schema = False
    guards = [requires("admin")]

    async def _page(self, request: Req, *, error: str | None = None, notice: str | None = None,
                    status: int = 200) -> Template:
        queues = await services.queues(include_archived=True)
        codes = await dispositions.by_queue([q["id"] for q in queues])
        return render_page(request, PAGE, {"queues": queues, "codes": codes, "roles": list(RANK), "error": error,
                                           "notice": notice}, status_code=status)

    @get("/")
    async def page(self, request: Req) -> Template:
        return await self._page(request)

    @post("/")
    async def add(self, request: Req) -> Template:
        form = await request.form()
        try:
            row = await services.create_queue(request.user, str(form.get("key", "")), str(form.get("name", "")),
                                              ticked(form, "roles"))
        except DomainError as exc:
            return await self._page(request, error=exc.detail, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("Queue “%(name)s” added.", name=row["name"]))

    @post("/{key:str}")
    async def update(self, request: Req, key: FromPath[str]) -> Template:
        form = await request.form()
        try:
            row = await services.update_queue(request.user, key, name=str(form.get("name", "")),
                                              roles=ticked(form, "roles"), position=optional_int(form.get("position")),
                                              archived=form.get("archived") is not None,
                                              wrapup_seconds=optional_int(form.get("wrapup_seconds")),
                                              wrapup_required=form.get("wrapup_required") is not None)
        except DomainError as exc:
            return await self._page(request, error=exc.detail, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("Queue “%(name)s” saved.", name=row["name"]))

    @post("/{key:str}/dispositions")
    async def add_code(self, request: Req, key: FromPath[str]) -> Template:
        form = await request.form()
        try:
            row = await dispositions.add(request.user, key, code=str(form.get("code", "")),
                                         label=str(form.get("label", "")), position=optional_int(form.get("position")))
        except DomainError as exc:
            return await self._page(request, error=exc.labelled, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("Disposition “%(code)s” added.", code=row["code"]))

    @post("/{key:str}/dispositions/{code:str}/remove")
    async def remove_code(self, request: Req, key: FromPath[str], code: FromPath[str]) -> Template:
        try:
            await dispositions.remove(request.user, key, code)
        except DomainError as exc:
            return await self._page(request, error=exc.detail, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("Disposition “%(code)s” removed.", code=code))
