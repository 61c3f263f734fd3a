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


def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not isinstance(connection.scope.get("user"), Principal):
        raise LoginRequired(i18n.gettext("Sign in first: send `Authorization: Bearer <api key>` or log in."))


def requires(role: str) -> Any:
    def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        signed_in(connection, handler)
        user: Principal = connection.scope["user"]
        if RANK[user.role] < RANK[role]:
            raise PermissionDeniedException(i18n.gettext("This needs the %(role)s role or higher; you are %(yours)s.",
                                                         role=role, yours=user.role))

    guard.__name__ = f"requires_{role}"
    return guard
