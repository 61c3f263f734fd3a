"""Routing in the UI: the console's offer buttons and panels, the admin's routing page (each queue's strategy and
rules, each colleague's skills) at /t/{slug}/settings/routing, and "why this agent" for supervisors."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Template

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.conversations import actions
from app.conversations import services as conversations
from app.lib import i18n
from app.lib.errors import DomainError, Invalid
from app.lib.templates import flash, render_page
from app.lib.wire import PathId
from app.routing import live, services
from app.routing.tables import STRATEGIES

Req = Request[Principal, Any, Any]
PAGE = "pages/routing_settings.html"


class OfferViews(Controller):
    path = "/console/offers"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def panel(self, request: Req) -> Template:
        ctx = await live.offers_context(request.scope["state"]["tenant"], request.user)
        return render_page(request, "_partials/console_offers.html", {**ctx, "loaded": True})

    @get("/team", guards=[requires("supervisor")])
    async def team(self, request: Req) -> Template:
        ctx = await live.offers_context(request.scope["state"]["tenant"], request.user)
        return render_page(request, "_partials/console_team_offers.html", {**ctx, "loaded": True})

    @post("/{offer_id:int}/accept")
    async def accept(self, request: Req, offer_id: PathId) -> Template:
        try:
            row = await services.accept(request.user, offer_id)
        except DomainError as exc:
            return flash(request, exc.detail, ok=False)  # a 200 fragment, so htmx shows what happened
        who = row["contact_name"] or row["from_address"] or i18n.gettext("the customer")
        return flash(request, i18n.gettext("You accepted the %(channel)s with %(who)s.",
                                           channel=i18n.gettext(row["channel"]), who=who), ok=True)

    @post("/{offer_id:int}/reject")
    async def reject(self, request: Req, offer_id: PathId) -> Template:
        try:
            await services.reject(request.user, offer_id)
        except DomainError as exc:
            return flash(request, exc.detail, ok=False)
        return flash(request, i18n.gettext("Offer passed on to the next agent."), ok=True)


class WhyViews(Controller):
    path = "/routing/why"
    include_in_schema = False
    guards = [requires("supervisor")]

    async def _page(self, request: Req, conversation_id: int, *, notice: str | None = None,
                    error: DomainError | None = None) -> Template:
        conversation = await actions.visible(request.user, conversation_id)
        return render_page(request, "pages/routing_why.html", {
            "conversation": conversation, "priority": await services.priority_of(conversation_id),
            "decisions": await services.decisions(request.user, conversation_id), "notice": notice,
            "error": error.detail if error else None}, status_code=error.status_code if error else 200)

    @get("/{conversation_id:int}")
    async def page(self, request: Req, conversation_id: PathId) -> Template:
        return await self._page(request, conversation_id)

    @post("/{conversation_id:int}/priority")
    async def priority(self, request: Req, conversation_id: PathId) -> Template:
        form = await request.form()
        try:
            await services.set_priority(request.user, conversation_id, _int(form, "priority", 0))
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            return await self._page(request, conversation_id, error=exc)
        return await self._page(request, conversation_id, notice=i18n.gettext("Priority saved."))


def _int(form: Any, name: str, default: int) -> int:
    raw = str(form.get(name, "") or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise Invalid("Write a whole number.", field=name) from None


def parse_skills(text: str, field: str = "skills") -> dict[str, int]:
    """"french:3, billing" → {"french": 3, "billing": 1} (the form's one-line spelling of skills and levels)."""
    out: dict[str, int] = {}
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        name, _, level = part.partition(":")
        try:
            out[name.strip().lower()] = int(level.strip() or 1)
        except ValueError:
            raise Invalid("Write skills as name:level, e.g. french:3, billing:1.", field=field) from None
    return out


class RoutingSettingsViews(Controller):
    path = "/settings/routing"
    include_in_schema = False
    guards = [requires("admin")]

    async def _page(self, request: Req, *, error: str | None = None, notice: str | None = None,
                    status: int = 200) -> Template:
        return render_page(request, PAGE, {"settings": await services.all_settings(),
                                           "queues": await conversations.queues(), "strategies": STRATEGIES,
                                           "team": await services.team_skills(), "error": error, "notice": notice},
                           status_code=status)

    @get("/")
    async def page(self, request: Req) -> Template:
        return await self._page(request)

    @post("/queues/{key:str}")
    async def save_queue(self, request: Req, key: FromPath[str]) -> Template:
        form = await request.form()
        try:
            row = await services.update_settings(
                request.user, key, strategy=str(form.get("strategy", "manual")),
                skills=parse_skills(str(form.get("skills", ""))),
                sticky_minutes=_int(form, "sticky_minutes", 0), offer_timeout=_int(form, "offer_timeout", 20),
                misses_before_away=_int(form, "misses_before_away", 3),
                overflow_queue=str(form.get("overflow_queue", "") or "") or None,
                overflow_after=_int(form, "overflow_after", 0))
        except DomainError as exc:
            return await self._page(request, error=exc.detail, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("Routing of “%(name)s” saved.", name=row["queue_name"]))

    @post("/skills/{user_id:int}")
    async def save_skills(self, request: Req, user_id: PathId) -> Template:
        form = await request.form()
        try:
            await services.set_skills(request.user, user_id, parse_skills(str(form.get("skills", ""))))
        except DomainError as exc:
            return await self._page(request, error=exc.detail, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("Skills saved."))
