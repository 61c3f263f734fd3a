"""The session cookie: its name and shape, read by the tenant middleware (tenants.routing) and set by sign-in."""

from __future__ import annotations

from litestar.datastructures import Cookie

SESSION_COOKIE = "sb_session"


def session_cookie(slug: str, token: str, *, max_age: int | None, secure: bool) -> Cookie:
    """The session cookie is scoped to the tenant's path: sessions of two shops never meet in one request."""
    return Cookie(key=SESSION_COOKIE, value=token, path=f"/t/{slug}", httponly=True, samesite="lax", secure=secure,
                  max_age=max_age)
