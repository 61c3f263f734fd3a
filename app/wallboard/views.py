"""The wallboard's pages: the board at /t/{slug}/wallboard (supervisors, or a screen signed in with a wallboard
link), its socket, and the links' settings page at /t/{slug}/settings/wallboard/ (admins)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, WebSocket, get, post, websocket
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.accounts.guards import LoginRequired, requires
from app.accounts.services import Principal
from app.lib import i18n
from app.lib.db import TenantRef, tenant_context
from app.lib.errors import DomainError
from app.lib.forms import fields
from app.lib.templates import render_page
from app.lib.wire import PathId
from app.settings import get_settings
from app.wallboard import live, services
from realtime import current_id
from realtime.views import CLOSE_REFUSED, serve_narrow

Req = Request[Any, Any, Any]


def _cookie(slug: str, secret: str) -> Cookie:
    """The wallboard link's cookie lives on the wallboard's path only: with it a screen opens nothing else."""
    return Cookie(key=services.COOKIE, value=secret, path=f"/t/{slug}/wallboard", httponly=True, samesite="lax",
                  secure=get_settings().security.cookie_secure, max_age=400 * 24 * 3600)


async def _supervisor_or_link(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Staff of supervisor rank, or a screen holding a live wallboard link's cookie; `?token=` (a screen signing
    in) is let through to the handler, which checks it."""
    if isinstance(connection.scope.get("user"), Principal):
        await _SUPERVISOR(connection, handler)
    elif (connection.query_params.get("token") is None
          and await services.resolve_token(connection.cookies.get(services.COOKIE, "")) is None):
        raise LoginRequired(i18n.gettext("Sign in first, or open the wallboard link an admin gave you."))


_SUPERVISOR = requires("supervisor")
_supervisor_or_link.__name__ = "requires_supervisor"  # what the role sweeps read (tests/integration/test_isolation)


class WallboardViews(Controller):
    path = "/"
    include_in_schema = False

    @get("/wallboard", guards=[_supervisor_or_link])
    async def board(self, request: Req, slug: FromPath[str], token: FromQuery[str | None] = None,
                    tv: FromQuery[str | None] = None) -> Template | Redirect:
        """A staff member of supervisor rank or a screen with a live wallboard link; `?token=` signs a screen in
        (then drops the secret from the address); `?tv=1` is the big-type layout for a wall."""
        if token is not None:
            if await services.resolve_token(token) is None:
                raise NotFoundException()  # unknown, revoked, another shop's: one answer
            response = Redirect(f"/t/{slug}/wallboard" + ("?tv=1" if tv else ""), status_code=303)
            response.cookies.append(_cookie(slug, token))
            return response
        return render_page(request, "pages/wallboard.html", {
            "board": await services.board(), "sl": services.service_level_text, "tv": bool(tv), "live": True,
            "live_socket": f"/t/{slug}/wallboard/ws", "last_event_id": await current_id()})

    @get("/settings/wallboard/", guards=[requires("admin")])
    async def tokens(self, request: Req, slug: FromPath[str]) -> Template:
        return render_page(request, "pages/wallboard_tokens.html", await _tokens(request, slug))

    @post("/settings/wallboard/", guards=[requires("admin")])
    async def create_token(self, request: Req, slug: FromPath[str]) -> Template:
        form = await fields(request, "name")
        try:
            _, secret = await services.create_token(request.user, form["name"])
        except DomainError as exc:
            return render_page(request, "pages/wallboard_tokens.html",
                               await _tokens(request, slug, error=exc.detail), status_code=exc.status_code)
        return render_page(request, "pages/wallboard_tokens.html",
                           await _tokens(request, slug, link=services.link(slug, secret)))

    @post("/settings/wallboard/{token_id:int}/revoke", guards=[requires("admin")])
    async def revoke_token(self, request: Req, slug: FromPath[str], token_id: PathId) -> Redirect:
        await services.revoke_token(request.user, token_id)
        return Redirect(f"/t/{slug}/settings/wallboard/", status_code=303)


async def _tokens(request: Req, slug: str, **extra: Any) -> dict[str, Any]:
    return {"tokens": await services.list_tokens(request.user), "error": None, "link": None, **extra}


async def _links_alive(token_ids: list[int]) -> set[int]:
    return await services.live_tokens(token_ids)


async def _supervisors_alive(session_ids: list[int]) -> set[int]:
    return await services.live_supervisor_sessions(session_ids, get_settings().security.session_idle_minutes)


@websocket("/wallboard/ws", opt={"csrf_exempt": True}, include_in_schema=False)
async def wallboard_socket(socket: WebSocket[Any, Any, Any], slug: FromPath[str]) -> None:
    """The board's live feed: a supervisor's session or a wallboard link's cookie; refused at the handshake
    otherwise, and from a foreign Origin. It hears only the board's events and renders only the board."""
    state = socket.scope.get("state", {})
    tenant: TenantRef | None = state.get("tenant")
    user = socket.scope.get("user")
    if tenant is None or tenant.slug != slug or socket.headers.get("origin") not in get_settings().app.allowed_origins:
        await socket.close(code=CLOSE_REFUSED)
        return
    viewer: live.BoardViewer | None = None
    if isinstance(user, Principal) and user.via == "session" and user.has_role("supervisor"):
        viewer = live.BoardViewer("session", user.credential_id, user.language, user.timezone)
    elif user is None:
        secret = socket.cookies.get(services.COOKIE, "")
        async with tenant_context(tenant):
            token_id = await services.resolve_token(secret)
        if token_id is not None:
            current = i18n.current()
            viewer = live.BoardViewer("wallboard", token_id, current.language, current.zone.key)
    if viewer is None:
        await socket.close(code=CLOSE_REFUSED)
        return
    await socket.accept()
    await serve_narrow(socket, tenant, viewer, topics=set(live.TOPICS),
                       still_valid=_links_alive if viewer.via == "wallboard" else _supervisors_alive)
