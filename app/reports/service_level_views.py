"""The admin's service-level page at /t/{slug}/settings/service-level: the formula and its two thresholds."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.lib import i18n
from app.lib.errors import DomainError, Invalid
from app.lib.templates import render_page
from app.reports import service_level
from app.reports.service_level import SettingsIn

Req = Request[Principal, Any, Any]
PAGE = "pages/service_level_settings.html"


def _seconds(form: Any, name: str) -> int:
    raw = str(form.get(name, "") or "").strip()
    if not raw.isdigit():
        raise Invalid("Write a whole number of seconds.", field=name)
    return int(raw)


class ServiceLevelViews(Controller):
    path = "/settings/service-level"
    include_in_schema = False
    guards = [requires("admin")]

    async def _page(self, request: Req, *, form: dict[str, Any] | None = None, error: str | None = None,
                    notice: str | None = None, status: int = 200) -> Template:
        return render_page(request, PAGE, {"form": form or await service_level.get_settings(),
                                           "formulas": service_level.FORMULAS, "error": error, "notice": notice},
                           status_code=status)

    @get("/")
    async def page(self, request: Req) -> Template:
        return await self._page(request)

    @post("/")
    async def save(self, request: Req) -> Template:
        form = await request.form()
        values = {k: str(form.get(k, "") or "") for k in
                  ("service_level_formula", "service_level_seconds", "short_abandon_seconds")}
        try:
            await service_level.update_settings(request.user, SettingsIn(
                service_level_formula=values["service_level_formula"],
                service_level_seconds=_seconds(form, "service_level_seconds"),
                short_abandon_seconds=_seconds(form, "short_abandon_seconds")))
        except DomainError as exc:
            return await self._page(request, form=values, error=exc.labelled, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("Service-level settings saved."))
