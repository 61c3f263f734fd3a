"""The onboarding wizard at /t/{slug}/onboarding: one page per step, each saved through its domain's own service;
"Skip for now" moves on and leaves the step on the home page's checklist."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.accounts import services as accounts
from app.accounts.guards import requires
from app.accounts.services import RANK, Principal
from app.chat import services as chat
from app.chat.api import snippet
from app.conversations import services as conversations
from app.email import config as email_config
from app.lib import i18n
from app.lib.errors import DomainError
from app.lib.forms import fields, ticked
from app.lib.templates import render_page
from app.onboarding import services
from app.settings import get_settings
from telephony import config as twilio_config

Req = Request[Principal, Any, Any]
PAGE = "pages/onboarding.html"


class OnboardingViews(Controller):
    path = "/onboarding"
    include_in_schema = False
    guards = [requires("admin")]

    @get("/")
    async def page(self, request: Req, step: FromQuery[str] = "profile") -> Template:
        return render_page(request, PAGE, await self._context(request, step))

    async def _context(self, request: Req, step: str, *, error: str | None = None, notice: str | None = None,
                       form: dict[str, Any] | None = None) -> dict[str, Any]:
        step = step if step in (*services.STEPS, "done") else "profile"
        ctx: dict[str, Any] = {"step": step, "error": error, "notice": notice, "form": form or {},
                               "checklist": await services.checklist(), "next_step": services.next_step(step),
                               "workspace": await accounts.workspace()}
        if step == "profile":
            ctx["zones"] = i18n.zone_names()
        elif step == "phone":
            ctx["cfg"] = await twilio_config.public_view()
            ctx["simulator"] = get_settings().app.is_dev
        elif step == "email":
            ctx["cfg"] = await email_config.public_view()
        elif step == "chat":
            ctx["cfg"] = await chat.get_settings()
            ctx["snippet"] = snippet(request.scope["state"]["tenant"].slug)
        elif step == "queues":
            ctx["queues"] = await conversations.queues()
            ctx["roles"] = list(RANK)
        elif step == "team":
            ctx["users"] = await accounts.list_users()
            ctx["invitations"] = await accounts.list_invitations(request.user)
        return ctx

    async def _done(self, request: Req, slug: str, step: str) -> Redirect:
        await services.mark_done(request.user, step)
        return Redirect(f"/t/{slug}/onboarding?step={services.next_step(step)}", status_code=303)

    async def _failed(self, request: Req, step: str, exc: DomainError, form: dict[str, Any]) -> Template:
        return render_page(request, PAGE, await self._context(request, step, error=exc.labelled, form=form),
                           status_code=exc.status_code)

    @post("/profile")
    async def profile(self, request: Req, slug: FromPath[str]) -> Template | Redirect:
        form = await fields(request, "display_name", "timezone", "default_region", "language", "currency")
        try:
            await accounts.update_workspace(request.user, display_name=form["display_name"], timezone=form["timezone"],
                                            default_region=form["default_region"], language=form["language"],
                                            currency=form["currency"] or None)
        except DomainError as exc:
            return await self._failed(request, "profile", exc, form)
        return await self._done(request, slug, "profile")

    @post("/phone")
    async def phone(self, request: Req, slug: FromPath[str]) -> Template | Redirect:
        form = await fields(request, "account_sid", "auth_token", "numbers")
        try:
            await twilio_config.save(request.user, {
                "account_sid": form["account_sid"], "auth_token": form["auth_token"],
                "numbers": [n.strip() for n in form["numbers"].split(",") if n.strip()]})
        except DomainError as exc:
            return await self._failed(request, "phone", exc, form)
        return await self._done(request, slug, "phone")

    @post("/phone/simulator")
    async def phone_simulator(self, request: Req, slug: FromPath[str]) -> Template | Redirect:
        if not get_settings().app.is_dev:
            return render_page(request, PAGE, await self._context(
                request, "phone", error=i18n.gettext("The simulator is only there in development.")), status_code=409)
        await services.use_simulator(request.user)
        return await self._done(request, slug, "phone")

    @post("/email")
    async def email(self, request: Req, slug: FromPath[str]) -> Template | Redirect:
        form = await fields(request, "smtp_host", "smtp_port", "smtp_tls", "smtp_user", "smtp_password",
                            "from_address", "from_name")
        try:
            await email_config.save(request.user, dict(form))
        except DomainError as exc:
            return await self._failed(request, "email", exc, form)
        return await self._done(request, slug, "email")

    @post("/chat")
    async def chat(self, request: Req, slug: FromPath[str]) -> Template | Redirect:
        form = await fields(request, "allowed_origins", "greeting")
        try:
            await chat.update_settings(request.user, allowed_origins=form["allowed_origins"].split(),
                                       greeting=form["greeting"])
        except DomainError as exc:
            return await self._failed(request, "chat", exc, form)
        return await self._done(request, slug, "chat")

    @post("/queues")
    async def add_queue(self, request: Req) -> Template:
        raw = await request.form()
        form = {"key": str(raw.get("key", "")), "name": str(raw.get("name", ""))}
        try:
            row = await conversations.create_queue(request.user, form["key"], form["name"], ticked(raw, "roles"))
        except DomainError as exc:
            return await self._failed(request, "queues", exc, form)
        return render_page(request, PAGE, await self._context(
            request, "queues", notice=i18n.gettext("Queue “%(name)s” added.", name=row["name"])))

    @post("/team/invite")
    async def invite(self, request: Req) -> Template:
        form = await fields(request, "email", "role")
        try:
            inv = await accounts.invite(request.user, form["email"], form["role"] or "operator")
        except DomainError as exc:
            return await self._failed(request, "team", exc, form)
        return render_page(request, PAGE, await self._context(
            request, "team", notice=i18n.gettext("Invitation sent to %(email)s.", email=inv["email"])))

    @post("/next/{step:str}")
    async def confirm(self, request: Req, slug: FromPath[str], step: FromPath[str]) -> Redirect:
        """Queues and team: nothing more to fill in, the admin says this step is done."""
        return await self._done(request, slug, step if step in services.STEPS else "profile")

    @post("/finish")
    async def finish(self, request: Req, slug: FromPath[str]) -> Redirect:
        await services.finish(request.user)
        return Redirect(f"/t/{slug}/", status_code=303)
