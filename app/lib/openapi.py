"""The error answers `/schema` documents: one rule per kind of refusal, applied to every operation it fits, so the
schema says what each route really answers without each handler repeating it (Litestar has `responses=` only per
handler, not per controller or router).

A rule looks only at facts the route declares: its path (under `/t/{slug}`), its method, its guards, its options.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.routes import HTTPRoute

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class FieldErrorOut(msgspec.Struct):
    field: str
    message: str


class ErrorOut(msgspec.Struct):
    """Every refusal: `detail` says what to change; `errors` names the fields when the input is at fault."""

    detail: str
    status_code: int
    errors: list[FieldErrorOut] | None = None


@dataclass(frozen=True)
class Route:
    path: str
    method: str
    handler: HTTPRouteHandler

    @property
    def in_workspace(self) -> bool:
        return self.path.startswith("/t/{slug")

    @property
    def guard_names(self) -> set[str]:
        # resolve_guards() wraps each guard in an AsyncCallable that keeps the function as `.func`
        return {getattr(getattr(g, "func", g), "__name__", "") for g in self.handler.resolve_guards()}

    @property
    def signed_in(self) -> bool:
        return "signed_in" in self.guard_names or self.role_guarded

    @property
    def role_guarded(self) -> bool:
        return any(name.startswith("requires_") for name in self.guard_names)

    @property
    def unsafe(self) -> bool:
        return self.method in UNSAFE

    @property
    def public_visitor(self) -> bool:
        """The chat widget's visitor API: checked against the shop's allowed origins and rate-limited per address."""
        return self.in_workspace and "/chat/" in self.path and "/api/" not in self.path


@dataclass(frozen=True)
class ErrorRule:
    status: int
    description: str
    applies: Callable[[Route], bool]


RULES = (
    ErrorRule(400, "The input is invalid (a wrong type, a value out of range, a NUL character, a broken rule): "
                   "`detail` says what to change and `errors` names the fields.", lambda r: True),
    ErrorRule(401, "Not signed in: send `Authorization: Bearer <api key>`.", lambda r: r.signed_in),
    ErrorRule(403, "Not allowed: your role is too low, the browser form lacks its CSRF token, or (chat widget) the "
                   "site's origin is not in the shop's list.",
              lambda r: r.role_guarded or r.public_visitor or (r.in_workspace and r.unsafe
                                                               and not r.handler.opt.get("csrf_exempt"))),
    ErrorRule(404, "No such workspace (or an API key it does not know), or no such record in it.",
              lambda r: r.in_workspace),
    ErrorRule(409, "Conflicts with the current state: someone changed the record first (send its `version`), "
                   "it already exists, or it cannot move that way.", lambda r: r.in_workspace and r.unsafe),
    ErrorRule(429, "Too many requests from this address or account: wait a minute and try again.",
              lambda r: r.public_visitor or (r.method == "POST" and r.path.endswith(("/login", "/signup")))),
)


def document_error_responses(app: Litestar) -> None:
    """Give every operation in `/schema` the error answers its rules say it can give."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.include_in_schema:
                continue
            for method in handler.http_methods:
                facts = Route(route.path, method, handler)
                responses: dict[int, Any] = dict(handler.responses or {})
                for rule in RULES:
                    if rule.applies(facts) and rule.status not in responses:
                        responses[rule.status] = ResponseSpec(data_container=ErrorOut, description=rule.description,
                                                              generate_examples=False)
                handler.responses = responses
