"""Order settings under /t/{slug}/settings/orders (admins): the status pipeline (statuses, their order, which may
follow which) and the customer email on status changes. The same rules as the JSON API (pipeline.py, notify.py)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Template

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.lib import i18n
from app.lib.errors import DomainError
from app.lib.forms import optional_int, ticked
from app.lib.templates import render_page
from app.orders import notify, pipeline

Req = Request[Principal, Any, Any]
PAGE = "pages/order_settings.html"


def _checked(form: Any, name: str) -> bool:
    return str(form.get(name, "")) == "on"


class OrderSettingsViews(Controller):
    path = "/settings/orders"
    include_in_schema = False
    guards = [requires("admin")]

    async def _page(self, request: Req, *, error: str | None = None, notice: str | None = None,
                    status: int = 200) -> Template:
        statuses = await pipeline.statuses(include_archived=True)
        return render_page(request, PAGE, {"statuses": statuses, "notify": await notify.settings(), "error": error,
                                           "notice": notice}, status_code=status)

    @get("/")
    async def page(self, request: Req) -> Template:
        return await self._page(request)

    @post("/statuses")
    async def add_status(self, request: Req) -> Template:
        form = await request.form()
        try:
            made = await pipeline.create(request.user, key=str(form.get("key", "")), label=str(form.get("label", "")),
                                         allowed=ticked(form, "allowed"),
                                         position=optional_int(form.get("position")), final=_checked(form, "final"),
                                         counts_as_sale=_checked(form, "counts_as_sale"))
        except DomainError as exc:
            return await self._page(request, error=exc.detail, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("Status %(name)s added.", name=made["name"]))

    @post("/statuses/{key:str}")
    async def update_status(self, request: Req, key: FromPath[str]) -> Template:
        form = await request.form()
        changes: dict[str, Any] = {"label": str(form.get("label", "")), "allowed": ticked(form, "allowed"),
                                   "final": _checked(form, "final"), "counts_as_sale": _checked(form, "counts_as_sale"),
                                   "archived": _checked(form, "archived")}
        if (position := optional_int(form.get("position"))) is not None:
            changes["position"] = position
        try:
            saved = await pipeline.update(request.user, key, changes)
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            return await self._page(request, error=exc.detail, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("Status %(name)s saved.", name=saved["name"]))

    @post("/notifications")
    async def save_notifications(self, request: Req) -> Template:
        form = await request.form()
        try:
            await notify.configure(request.user, enabled=_checked(form, "enabled"),
                                   statuses=ticked(form, "statuses"),
                                   subject=str(form.get("subject", "")), body=str(form.get("body", "")))
        except DomainError as exc:
            return await self._page(request, error=exc.detail, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("Customer notifications saved."))
