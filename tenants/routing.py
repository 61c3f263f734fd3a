"""Per-request tenant routing: `/t/{slug}/...` resolves the tenant in `public`, then the whole request runs in
one unit of work pinned to that tenant's schema, and is authenticated there.

The response is held back until the transaction has committed (or rolled back, for any 4xx/5xx answer), so a
client never sees success for work that did not land. A read-only handler that streams a large answer (the CSV
export) sets `scope["state"][STREAM_RESPONSE]` to have a 2xx response passed through as it is produced instead.
Websockets only get the tenant selected: their handlers open short units of work with `tenant_context` themselves.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from litestar.exceptions import NotFoundException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.accounts import services as accounts
from app.accounts.cookies import SESSION_COOKIE
from app.lib import i18n, ratelimit, reqctx
from app.lib.db import current_uow, resolve_active_cached, tenant_context, tenant_selected

STREAM_RESPONSE = reqctx.STREAM_RESPONSE


class _Rollback(Exception):
    pass


def tenant_slug_from_path(path: str) -> str | None:
    if not path.startswith("/t/"):
        return None
    parts = path.split("/", 3)
    return parts[2] if len(parts) > 2 else None


def _cookie(scope: Scope, name: str) -> str:
    raw = reqctx.scope_header(scope, b"cookie")
    for part in raw.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


async def authenticate(scope: Scope) -> None:
    """Set scope['user'] from a Bearer API key or the session cookie. A key this tenant does not know gets the
    same 404 as an unknown tenant: keys cannot be used to probe which shops exist."""
    auth = reqctx.scope_header(scope, b"authorization")
    scope["user"] = None
    scope["auth"] = None
    if auth:
        scheme, _, credential = auth.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise NotFoundException()
        principal = await accounts.resolve_api_key(credential.strip())
        if principal is None:
            raise NotFoundException()
        tenant = scope["state"]["tenant"]
        await ratelimit.api_limiter().check(tenant.slug, str(principal.credential_id))
        scope["user"], scope["auth"] = principal, "api_key"
        return
    token = _cookie(scope, SESSION_COOKIE)
    if token:
        principal = await accounts.resolve_session(token)
        if principal is not None:
            scope["user"], scope["auth"] = principal, "session"
            scope.setdefault("state", {})["session_token"] = token


async def choose_viewer(scope: Scope) -> None:
    """The language and zone of this request: the user's (their own, else the workspace's, else the browser's
    language), or for a visitor the workspace's, then the browser's. A signed-in user's principal carries the
    outcome, so the sockets' renderers (which run outside this request) render for them alike."""
    accept = reqctx.scope_header(scope, b"accept-language")
    user = scope.get("user")
    if user is not None:
        language, zone = i18n.pick(user.language, accept_language=accept), i18n.pick_zone(user.timezone)
        scope["user"] = dataclasses.replace(user, language=language, timezone=zone.key)
    else:
        ws = await current_uow().connection.fetchrow("SELECT language, timezone FROM workspace LIMIT 1")
        language = i18n.pick(ws["language"] if ws else None, accept_language=accept)
        zone = i18n.pick_zone(ws["timezone"] if ws else None)
    i18n.activate(i18n.Viewer(language, zone))


class TenantMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        ip_token = reqctx.client_ip.set(client[0] if client else "")
        ua_token = reqctx.user_agent.set(reqctx.scope_header(scope, b"user-agent"))
        viewer_token = i18n.activate(i18n.Viewer(i18n.pick(accept_language=reqctx.scope_header(
            scope, b"accept-language"))))
        try:
            slug = tenant_slug_from_path(scope["path"])
            if slug is None:
                await self.app(scope, receive, send)
                return
            tenant = await resolve_active_cached(slug)
            if tenant is None:
                raise NotFoundException()
            scope.setdefault("state", {})["tenant"] = tenant
            if scope["type"] == "websocket":
                with tenant_selected(tenant):
                    async with tenant_context(tenant):
                        await authenticate(scope)
                        await choose_viewer(scope)
                    await self.app(scope, receive, send)
                return
            await self._http(tenant, scope, receive, send)
        finally:
            i18n.deactivate(viewer_token)
            reqctx.client_ip.reset(ip_token)
            reqctx.user_agent.reset(ua_token)

    async def _http(self, tenant: Any, scope: Scope, receive: Receive, send: Send) -> None:
        held: list[Message] = []
        status = 500
        streaming = False

        async def hold(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = message["status"]
                # Nothing to commit first for a read-only stream; holding it would keep it all in memory.
                streaming = status < 400 and bool(scope.get("state", {}).get(STREAM_RESPONSE))
            if streaming:
                await send(message)
            else:
                held.append(message)

        try:
            async with tenant_context(tenant) as uow:
                await authenticate(scope)
                await choose_viewer(scope)
                await self.app(scope, receive, hold)
                if status >= 400 and not uow.commit_on_error:
                    raise _Rollback
        except _Rollback:
            pass
        for message in held:
            await send(message)
