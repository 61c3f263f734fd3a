"""The session cookie: its name and shape, read by the tenant middleware (tenants.routing) and set by sign-in."""

from __future__ import annotations

from litestar.datastructures import Cookie

SESSION_COOKIE = "sb_session"
TWOFA_COOKIE = "sb_2fa"
"""A sign-in waiting for its second factor (app.accounts.twofa challenges): not a session, reaches no page."""


def session_cookie(slug: str, token: str, *, max_age: int | None, secure: bool) -> Cookie:
    """The session cookie is scoped to the tenant's path: sessions of two shops never meet in one request."""
    return Cookie(key=SESSION_COOKIE, value=token, path=f"/t/{slug}", httponly=True, samesite="lax", secure=secure,
                  max_age=max_age)


def twofa_cookie(slug: str, token: str, *, max_age: int, secure: bool) -> Cookie:
    """Only the second-step pages under /t/{slug}/login see the waiting sign-in's cookie."""
    return Cookie(key=TWOFA_COOKIE, value=token, path=f"/t/{slug}/login", httponly=True, samesite="lax",
                  secure=secure, max_age=max_age)
