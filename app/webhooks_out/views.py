"""Outbound webhooks pages under /t/{slug}/settings/webhooks (admins): endpoints, the events picker, secrets and
their rotation, test sends, and each endpoint's delivery log with redeliver."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.lib import i18n
from app.lib.errors import DomainError
from app.lib.forms import fields, ticked
from app.lib.templates import render_page
from app.lib.wire import PathId, QueryId
from app.webhooks_out import services
from app.webhooks_out.tables import STATUSES

Req = Request[Principal, Any, Any]
PAGE = 50


class WebhookViews(Controller):
    path = "/settings/webhooks"
    include_in_schema = False
    guards = [requires("admin")]

    async def _list(self, request: Req, **extra: Any) -> dict[str, Any]:
        return {"endpoints": await services.endpoints(), "catalogue": services.catalogue(), "error": None,
                "notice": None, "secret": None, "form": {"url": "", "description": "", "events": []}, **extra}

    async def _detail(self, request: Req, endpoint_id: int, *, status: str | None = None, before: int | None = None,
                      **extra: Any) -> dict[str, Any]:
        status = status if status in STATUSES else None
        rows = await services.deliveries(endpoint_id, status=status, before=before, limit=PAGE)
        return {"endpoint": await services.get(endpoint_id), "catalogue": services.catalogue(), "deliveries": rows,
                "status": status, "older": rows[-1]["id"] if len(rows) == PAGE else None,
                "reason": services.reason_text, "error": None, "notice": None, "secret": None, **extra}

    @get("/")
    async def index(self, request: Req) -> Template:
        return render_page(request, "pages/webhooks.html", await self._list(request))

    @post("/")
    async def create(self, request: Req) -> Template:
        form = await fields(request, "url", "description")
        events = ticked(await request.form(), "events")
        try:
            row = await services.create(request.user, url=form["url"], events=events,
                                        description=form["description"])
        except DomainError as exc:
            return render_page(request, "pages/webhooks.html", await self._list(
                request, error=exc.detail, form={**form, "events": events}), status_code=exc.status_code)
        return render_page(request, "pages/webhook.html", await self._detail(
            request, row["id"], secret=row["secret"], notice=i18n.gettext("Endpoint created.")), status_code=201)

    @get("/{endpoint_id:int}")
    async def detail(self, request: Req, endpoint_id: PathId, status: FromQuery[str | None] = None,
                     before: QueryId = None) -> Template:
        return render_page(request, "pages/webhook.html", await self._detail(request, endpoint_id, status=status,
                                                                              before=before))

    async def _act(self, request: Req, endpoint_id: int, action: Any, notice: str) -> Template:
        try:
            result = await action()
        except DomainError as exc:
            return render_page(request, "pages/webhook.html", await self._detail(request, endpoint_id,
                                                                                  error=exc.detail),
                               status_code=exc.status_code)
        secret = result.get("secret") if isinstance(result, dict) else None
        return render_page(request, "pages/webhook.html", await self._detail(request, endpoint_id, notice=notice,
                                                                              secret=secret))

    @post("/{endpoint_id:int}")
    async def update(self, request: Req, endpoint_id: PathId) -> Template:
        form = await fields(request, "url", "description", "enabled")
        events = ticked(await request.form(), "events")
        return await self._act(request, endpoint_id, lambda: services.update(
            request.user, endpoint_id, url=form["url"], events=events, description=form["description"],
            enabled=form["enabled"] == "on"), i18n.gettext("Saved."))

    @post("/{endpoint_id:int}/rotate")
    async def rotate(self, request: Req, endpoint_id: PathId) -> Template:
        return await self._act(request, endpoint_id, lambda: services.rotate(request.user, endpoint_id),
                               i18n.gettext("New secret made; the previous one keeps signing for 24 hours."))

    @post("/{endpoint_id:int}/reveal")
    async def reveal(self, request: Req, endpoint_id: PathId) -> Template:
        async def current() -> dict[str, Any]:
            return {"secret": await services.current_secret(request.user, endpoint_id)}
        return await self._act(request, endpoint_id, current, i18n.gettext("The secret that signs now:"))

    @post("/{endpoint_id:int}/test")
    async def test(self, request: Req, endpoint_id: PathId) -> Template:
        return await self._act(request, endpoint_id, lambda: services.send_test(request.user, endpoint_id),
                               i18n.gettext("Test message queued; reload to see its answer."))

    @post("/{endpoint_id:int}/deliveries/{delivery_id:int}/redeliver")
    async def redeliver(self, request: Req, endpoint_id: PathId, delivery_id: PathId) -> Template:
        return await self._act(request, endpoint_id,
                               lambda: services.redeliver(request.user, endpoint_id, delivery_id),
                               i18n.gettext("Delivery queued again."))

    @post("/{endpoint_id:int}/delete")
    async def delete(self, request: Req, slug: FromPath[str], endpoint_id: PathId) -> Redirect:
        await services.delete(request.user, endpoint_id)
        return Redirect(f"/t/{slug}/settings/webhooks/", status_code=303)
