"""The security console page under /t/{slug}/settings/security (admins): rejected inbound requests."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.lib.templates import render_page
from app.security import services

Req = Request[Principal, Any, Any]


class SecurityViews(Controller):
    path = "/settings/security"
    include_in_schema = False
    guards = [requires("admin")]

    @get("/")
    async def index(self, request: Req) -> Template:
        rows = await services.latest()
        return render_page(request, "pages/security.html", {
            "days": await services.per_day(), "rejections": rows, "reason": services.reason_text})
