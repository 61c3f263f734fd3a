"""The workspace's home at /t/{slug}/: a page per role, live like the console (same socket, same pushes)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.accounts.guards import signed_in
from app.accounts.services import Principal
from app.home import services
from app.lib.templates import render_page
from realtime import current_id

Req = Request[Principal, Any, Any]


class HomeViews(Controller):
    path = "/"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def home(self, request: Req, slug: FromPath[str]) -> Template | Redirect:
        ctx = await services.context(request.scope["state"]["tenant"], request.user)
        if not ctx["workspace"]["onboarding_done"] and request.user.has_role("admin"):
            return Redirect(f"/t/{slug}/onboarding", status_code=303)
        ctx.update(live=True, last_event_id=await current_id())
        return render_page(request, "pages/dashboard.html", ctx)

    @get("/home/business")
    async def business(self, request: Req) -> Template:
        """The owner's numbers, fresh: what the panel reloads after a refresh order from the hub."""
        ctx = await services.context(request.scope["state"]["tenant"], request.user)
        return render_page(request, "_partials/home_business.html", ctx)
