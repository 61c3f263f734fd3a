"""CSRF protection for everything a browser can submit: a signed double-submit token.

Every browser gets a random `sb_csrf` cookie; pages embed HMAC(secret, cookie + session), forms send it as
`_csrf` and htmx as the `X-CSRF-Token` header. Requests authenticated by a Bearer API key carry no ambient
credentials and are exempt, as are routes marked `opt={"csrf_exempt": True}` (signed webhooks, JSON signup).
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from litestar.exceptions import PermissionDeniedException

from app.lib import i18n
from app.lib.security import constant_time_equals, new_token, sign
from app.settings import get_settings

CSRF_COOKIE = "sb_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def browser_secret(request: Request[Any, Any, Any]) -> str:
    """The cookie value, creating one for this response when the browser has none yet."""
    value = request.cookies.get(CSRF_COOKIE) or request.scope.setdefault("state", {}).get("new_csrf")
    if not value:
        value = new_token(24)
        request.scope["state"]["new_csrf"] = value
    return value


def token_for(request: Request[Any, Any, Any]) -> str:
    session = request.scope.get("state", {}).get("session_token", "")
    return sign(f"{browser_secret(request)}|{session}", "csrf")


def pending_cookie(request: Request[Any, Any, Any]) -> Cookie | None:
    value = request.scope.get("state", {}).get("new_csrf")
    if not value:
        return None
    return Cookie(key=CSRF_COOKIE, value=value, path="/", httponly=True, samesite="lax",
                  secure=get_settings().security.cookie_secure)


async def check(request: Request[Any, Any, Any]) -> None:
    """before_request hook: refuse unsafe browser requests that lack a valid token (403, saying why)."""
    if request.method in SAFE_METHODS or request.scope.get("auth") == "api_key":
        return
    if request.route_handler.opt.get("csrf_exempt"):
        return
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            sent = (await request.form()).get(CSRF_FIELD)
    if not cookie or not sent or not isinstance(sent, str):
        raise PermissionDeniedException(i18n.gettext("Missing CSRF token: reload the page and submit the form again."))
    if not constant_time_equals(sent, token_for(request)):
        raise PermissionDeniedException(i18n.gettext("Invalid CSRF token: reload the page and submit the form again."))
