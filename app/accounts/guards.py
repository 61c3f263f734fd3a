"""Route guards: who may reach a handler. Anonymous browsers are sent to the login page; API clients get 401."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from app.accounts.services import RANK, Principal
from app.lib import i18n


class LoginRequired(NotAuthorizedException):
    """Raised for anonymous requests; HTML requests are redirected to the tenant's login page."""


# Guards are coroutines on purpose: Litestar runs a plain-function guard in a worker thread, a thread hop (and GIL
# contention) on every request for what is one isinstance check (see bench_http).

def _require_user(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    if not isinstance(connection.scope.get("user"), Principal):
        raise LoginRequired(i18n.gettext("Sign in first: send `Authorization: Bearer <api key>` or log in."))


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    _require_user(connection)


def requires(role: str) -> Any:
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        _require_user(connection)
        user: Principal = connection.scope["user"]
        if RANK[user.role] < RANK[role]:
            raise PermissionDeniedException(i18n.gettext("This needs the %(role)s role or higher; you are %(yours)s.",
                                                         role=role, yours=user.role))

    guard.__name__ = f"requires_{role}"
    return guard
