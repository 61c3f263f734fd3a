"""The revenue reports' settings page at /t/{slug}/settings/revenue-report (admins): the same rules as the JSON API
(app.reports.revenue_facts.configure)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.lib import i18n
from app.lib.errors import DomainError, Invalid
from app.lib.forms import optional_int
from app.lib.templates import render_page
from app.reports import revenue_facts

Req = Request[Principal, Any, Any]
PAGE = "pages/revenue_settings.html"


def _number(raw: Any, field: str) -> float:
    try:
        return float(str(raw or "").strip().replace(",", "."))
    except ValueError:
        raise Invalid("%(field_name)s must be a number like 2 or 1.5.", field=field, field_name=field) from None


class RevenueSettingsViews(Controller):
    path = "/settings/revenue-report"
    include_in_schema = False
    guards = [requires("admin")]

    async def _page(self, request: Req, *, error: str | None = None, notice: str | None = None,
                    status: int = 200) -> Template:
        return render_page(request, PAGE, {"settings": await revenue_facts.settings(), "error": error,
                                           "notice": notice}, status_code=status)

    @get("/")
    async def page(self, request: Req) -> Template:
        return await self._page(request)

    @post("/")
    async def save(self, request: Req) -> Template:
        form = await request.form()
        try:
            touch, days = optional_int(form.get("touch_days")), optional_int(form.get("lapsed_days"))
            if touch is None or days is None:
                raise Invalid("Both numbers of days are whole numbers, e.g. 7 and 180.", field="touch_days")
            await revenue_facts.configure(request.user, touch_days=touch, lapsed_days=days,
                                          lapsed_factor=_number(form.get("lapsed_factor"), "lapsed_factor"))
        except DomainError as exc:
            return await self._page(request, error=exc.detail, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("Revenue report settings saved."))
