"""Accounts pages under /t/{slug}: sign-in, profile, team, API keys, audit log, invitations."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.accounts import services, twofa
from app.accounts.cookies import SESSION_COOKIE, TWOFA_COOKIE, session_cookie, twofa_cookie
from app.accounts.guards import requires, signed_in
from app.audit import services as audit
from app.lib import i18n, quotas
from app.lib.csrf import CSRF_COOKIE
from app.lib.errors import DomainError
from app.lib.forms import fields
from app.lib.security import new_token
from app.lib.templates import render_page
from app.lib.wire import PathId, QueryId
from app.settings import get_settings

Req = Request[services.Principal, Any, Any]


def _session_cookies(slug: str, token: str) -> list[Cookie]:
    """A new session cookie, a new CSRF secret (rotation at login), and no waiting second step any more."""
    sec = get_settings().security
    return [session_cookie(slug, token, max_age=sec.session_absolute_hours * 3600, secure=sec.cookie_secure),
            Cookie(key=CSRF_COOKIE, value=new_token(24), path="/", httponly=True, samesite="lax",
                   secure=sec.cookie_secure),
            twofa_cookie(slug, "", max_age=0, secure=sec.cookie_secure)]


def _signed_in_redirect(slug: FromPath[str], token: FromPath[str], to: str) -> Redirect:
    """Start a session."""
    response = Redirect(to, status_code=303)
    response.cookies.extend(_session_cookies(slug, token))
    return response


def _after_password(slug: str, result: services.SignIn, to: str) -> Redirect:
    """Signed in, or on to the second step (a code, or the enrolment the shop requires) with its cookie."""
    if result.session_token:
        return _signed_in_redirect(slug, result.session_token, to)
    response = Redirect(f"/t/{slug}/login/2fa" + ("/setup" if result.step == "enrol" else ""), status_code=303)
    response.cookies.append(twofa_cookie(slug, result.challenge_token, max_age=twofa.CHALLENGE_MINUTES * 60,
                                         secure=get_settings().security.cookie_secure))
    return response


def _safe_next(slug: FromPath[str], target: str | None) -> str:
    prefix = f"/t/{slug}/"
    if target == prefix.rstrip("/"):  # Litestar drops the trailing slash of the workspace root
        return prefix
    if target and target.startswith(prefix) and "//" not in target[1:] and "\\" not in target:
        return target
    return prefix


class AuthViews(Controller):
    path = "/"
    include_in_schema = False

    @get("/login")
    async def login_form(self, request: Req, next: FromQuery[str | None] = None) -> Template:
        return render_page(request, "pages/login.html", {"error": None, "email": "", "next": next or ""})

    @post("/login")
    async def login(self, request: Req, slug: FromPath[str]) -> Template | Redirect:
        form = await fields(request, "email", "password", "next")
        to = _safe_next(slug, form["next"])
        try:
            result = await services.login(form["email"], form["password"], to)
        except DomainError as exc:
            return render_page(request, "pages/login.html",
                               {"error": exc.detail, "email": form["email"], "next": form["next"]},
                               status_code=exc.status_code)
        return _after_password(slug, result, to)

    @get("/login/2fa")
    async def second_step_form(self, request: Req, slug: FromPath[str]) -> Template | Redirect:
        try:
            challenge = await twofa.open_challenge(request.cookies.get(TWOFA_COOKIE, ""))
        except DomainError:
            return Redirect(f"/t/{slug}/login", status_code=303)
        if not challenge["enabled"]:
            return Redirect(f"/t/{slug}/login/2fa/setup", status_code=303)
        return render_page(request, "pages/login_2fa.html", {"error": None, "gone": False})

    @post("/login/2fa")
    async def second_step(self, request: Req, slug: FromPath[str]) -> Template | Redirect:
        form = await fields(request, "code")
        try:
            result = await services.sign_in_with_code(request.cookies.get(TWOFA_COOKIE, ""), form["code"])
        except DomainError as exc:
            return render_page(request, "pages/login_2fa.html",
                               {"error": exc.detail, "gone": exc.template == twofa.CHALLENGE_GONE},
                               status_code=exc.status_code)
        return _signed_in_redirect(slug, result.session_token, _safe_next(slug, result.next_path))

    @get("/login/2fa/setup")
    async def enrolment_form(self, request: Req, slug: FromPath[str]) -> Template | Redirect:
        try:
            _, setup = await services.enrolment_for_sign_in(request.cookies.get(TWOFA_COOKIE, ""))
        except DomainError:
            return Redirect(f"/t/{slug}/login", status_code=303)
        return render_page(request, "pages/login_2fa_setup.html", {"setup": setup, "codes": None, "error": None})

    @post("/login/2fa/setup")
    async def enrol(self, request: Req, slug: FromPath[str]) -> Template | Redirect:
        form = await fields(request, "code")
        token = request.cookies.get(TWOFA_COOKIE, "")
        try:
            result, codes = await services.enrol_at_sign_in(token, form["code"])
        except DomainError as exc:
            try:
                _, setup = await services.enrolment_for_sign_in(token)
            except DomainError:
                return Redirect(f"/t/{slug}/login", status_code=303)
            return render_page(request, "pages/login_2fa_setup.html",
                               {"setup": setup, "codes": None, "error": exc.detail}, status_code=exc.status_code)
        # The session starts now; the recovery codes are shown once, then the user goes on.
        page = render_page(request, "pages/login_2fa_setup.html",
                           {"setup": None, "codes": codes, "error": None,
                            "next": _safe_next(slug, result.next_path)})
        page.cookies.extend(_session_cookies(slug, result.session_token))
        return page

    @post("/logout", guards=[signed_in])
    async def logout(self, request: Req, slug: FromPath[str]) -> Redirect:
        await services.logout(request.user)
        response = Redirect(f"/t/{slug}/login", status_code=303)
        response.cookies.append(Cookie(key=SESSION_COOKIE, value="", path=f"/t/{slug}", max_age=0, httponly=True,
                                       samesite="lax"))
        return response

    @get("/invite/{token:str}")
    async def invitation(self, request: Req, token: FromPath[str]) -> Template:
        inv = await services.open_invitation(token)
        return render_page(request, "pages/accept_invite.html", {"invitation": inv, "error": None, "name": ""})

    @post("/invite/{token:str}")
    async def accept(self, request: Req, slug: FromPath[str], token: FromPath[str]) -> Template | Redirect:
        form = await fields(request, "name", "password")
        try:
            result = await services.accept_invitation(token, form["name"], form["password"])
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            inv = await services.open_invitation(token)
            return render_page(request, "pages/accept_invite.html",
                               {"invitation": inv, "error": exc.detail, "name": form["name"]},
                               status_code=exc.status_code)
        return _after_password(slug, result, f"/t/{slug}/")


class WorkspaceViews(Controller):
    path = "/"
    include_in_schema = False
    guards = [signed_in]

    @get("/profile")
    async def profile(self, request: Req) -> Template:
        return render_page(request, "pages/profile.html", await self._profile(request))

    async def _profile(self, request: Req, **extra: Any) -> dict[str, Any]:
        return {"profile": await services.profile(request.user), "workspace": await services.workspace(),
                "zones": i18n.zone_names(), "now": i18n.now(), "error": None, "notice": None,
                "twofa": await services.my_twofa(request.user), "setup": None, "codes": None,
                "twofa_error": None, "twofa_notice": None, **extra}

    async def _twofa_page(self, request: Req, action: Any, notice: str) -> Template:
        """Run one change of the user's own 2FA and show the profile with its outcome (or the error)."""
        try:
            outcome = await action()
        except DomainError as exc:
            pending = await twofa.pending_setup(request.user.user_id, request.user.email)
            return render_page(request, "pages/profile.html",
                               await self._profile(request, twofa_error=exc.detail, setup=pending),
                               status_code=exc.status_code)
        ctx = await self._profile(request, twofa_notice=notice)
        if isinstance(outcome, twofa.Setup):
            ctx["setup"] = outcome
        elif isinstance(outcome, list):
            ctx["codes"] = outcome
        return render_page(request, "pages/profile.html", ctx)

    @post("/profile/2fa/setup")
    async def start_twofa(self, request: Req) -> Template:
        return await self._twofa_page(request, lambda: services.start_twofa_setup(request.user),
                                      i18n.gettext("Scan the code with your authenticator app, then enter the "
                                                   "six digits it shows."))

    @post("/profile/2fa/confirm")
    async def confirm_twofa(self, request: Req) -> Template:
        form = await fields(request, "code")
        return await self._twofa_page(request, lambda: services.confirm_twofa(request.user, form["code"]),
                                      i18n.gettext("Two-factor sign-in is on."))

    @post("/profile/2fa/recovery-codes")
    async def renew_recovery_codes(self, request: Req) -> Template:
        form = await fields(request, "code")
        return await self._twofa_page(
            request, lambda: services.regenerate_recovery_codes(request.user, form["code"]),
            i18n.gettext("New recovery codes made; the old ones no longer work."))

    @post("/profile/2fa/disable")
    async def disable_twofa(self, request: Req) -> Template:
        form = await fields(request, "code")
        return await self._twofa_page(request, lambda: services.disable_twofa(request.user, form["code"]),
                                      i18n.gettext("Two-factor sign-in is off."))

    @post("/profile")
    async def save_profile(self, request: Req, slug: FromPath[str]) -> Template | Redirect:
        form = await fields(request, "language", "timezone")
        try:
            await services.update_profile(request.user, language=form["language"], timezone=form["timezone"])
        except DomainError as exc:
            ctx = await self._profile(request)
            ctx["error"] = exc.detail
            return render_page(request, "pages/profile.html", ctx, status_code=exc.status_code)
        return Redirect(f"/t/{slug}/profile?saved=1", status_code=303)  # the next page reads the new choice

    @get("/settings/team", guards=[requires("admin")])
    async def team(self, request: Req) -> Template:
        return render_page(request, "pages/team.html", await self._team(request))

    async def _team(self, request: Req, error: str | None = None, notice: str | None = None) -> dict[str, Any]:
        return {"users": await services.list_users(), "invitations": await services.list_invitations(request.user),
                "error": error, "notice": notice, "twofa_users": await twofa.enabled_users(),
                "twofa_policy": await twofa.policy(), "twofa_policies": twofa.POLICIES}

    @post("/settings/team/2fa-policy", guards=[requires("admin")])
    async def set_twofa_policy(self, request: Req) -> Template:
        form = await fields(request, "policy")
        try:
            await services.set_twofa_policy(request.user, form["policy"])
        except DomainError as exc:
            return render_page(request, "pages/team.html", await self._team(request, error=exc.detail),
                               status_code=exc.status_code)
        return render_page(request, "pages/team.html", await self._team(request, notice=i18n.gettext("Saved.")))

    @post("/settings/team/{user_id:int}/2fa/reset", guards=[requires("admin")])
    async def reset_twofa(self, request: Req, user_id: PathId) -> Template:
        try:
            await services.reset_twofa(request.user, user_id)
        except DomainError as exc:
            return render_page(request, "pages/team.html", await self._team(request, error=exc.detail),
                               status_code=exc.status_code)
        return render_page(request, "pages/team.html", await self._team(
            request, notice=i18n.gettext("Two-factor sign-in reset; the user's sessions ended.")))

    @post("/settings/team/invite", guards=[requires("admin")])
    async def invite(self, request: Req) -> Template:
        form = await fields(request, "email", "role")
        try:
            inv = await services.invite(request.user, form["email"], form["role"] or "operator")
        except DomainError as exc:
            return render_page(request, "pages/team.html", await self._team(request, error=exc.detail),
                               status_code=exc.status_code)
        return render_page(request, "pages/team.html",
                           await self._team(request, notice=i18n.gettext("Invitation sent to %(email)s.",
                                                                         email=inv["email"])))

    @post("/settings/team/{user_id:int}", guards=[requires("admin")])
    async def update_user(self, request: Req, user_id: PathId) -> Template:
        form = await fields(request, "role", "status")
        try:
            await services.update_user(request.user, user_id, role=form["role"] or None, status=form["status"] or None)
        except DomainError as exc:
            return render_page(request, "pages/team.html", await self._team(request, error=exc.detail),
                               status_code=exc.status_code)
        return render_page(request, "pages/team.html", await self._team(request, notice=i18n.gettext("Saved.")))

    @post("/settings/team/{user_id:int}/sign-out", guards=[requires("admin")])
    async def sign_out_everywhere(self, request: Req, user_id: PathId) -> Template:
        try:
            count = await services.revoke_sessions(request.user, user_id)
        except DomainError as exc:
            return render_page(request, "pages/team.html", await self._team(request, error=exc.detail),
                               status_code=exc.status_code)
        return render_page(request, "pages/team.html", await self._team(request, notice=i18n.ngettext(
            "%(num)d session ended.", "%(num)d sessions ended.", count)))

    @get("/settings/api-keys", guards=[requires("admin")])
    async def api_keys(self, request: Req) -> Template:
        return render_page(request, "pages/api_keys.html",
                           {"keys": await services.list_api_keys(request.user), "secret": None, "error": None})

    @post("/settings/api-keys", guards=[requires("admin")])
    async def create_api_key(self, request: Req) -> Template:
        form = await fields(request, "name")
        secret, error, status = None, None, 200
        try:
            _, secret = await services.create_api_key(request.user, form["name"])
        except DomainError as exc:
            error, status = exc.detail, exc.status_code
        return render_page(request, "pages/api_keys.html", {"keys": await services.list_api_keys(request.user),
                                                            "secret": secret, "error": error}, status_code=status)

    @post("/settings/api-keys/{key_id:int}/revoke", guards=[requires("admin")])
    async def revoke_api_key(self, request: Req, slug: FromPath[str], key_id: PathId) -> Redirect:
        await services.revoke_api_key(request.user, key_id)
        return Redirect(f"/t/{slug}/settings/api-keys", status_code=303)

    @get("/settings/plan", guards=[requires("admin")])
    async def plan(self, request: Req) -> Template:
        """Plan and usage: each quota the platform set, what the shop uses of it."""
        return render_page(request, "pages/plan.html", {"quotas": [
            {"kind": q.kind, "label": i18n.gettext(q.label), "used": quotas.shown(q.kind, q.used),
             "limit": quotas.shown(q.kind, q.limit), "unlimited": q.limit is None, "full": q.full,
             "percent": min(100, int(q.used * 100 / q.limit)) if q.limit else (100 if q.limit == 0 else 0)}
            for q in await quotas.usage()]})

    @get("/settings/audit", guards=[requires("admin")])
    async def audit_log(self, request: Req, before: QueryId = None) -> Template:
        rows = await audit.page(limit=50, before_id=before)
        entries = [{**r, "what": audit.describe(r["action"])} for r in rows]
        return render_page(request, "pages/audit.html",
                           {"entries": entries, "next": rows[-1]["id"] if len(rows) == 50 else None})
