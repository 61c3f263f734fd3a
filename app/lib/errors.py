"""Domain errors with messages a person can act on, and their HTTP mapping (JSON for the API, pages for HTML)."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str, *, field: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra or {}

    @property
    def labelled(self) -> str:
        """The message as a form shows it above the fields: `field: detail`."""
        return (f"{self.field}: " if self.field else "") + self.detail

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.detail, "status_code": self.status_code}
        if self.field:
            body["errors"] = [{"field": self.field, "message": self.detail}]
        body.update(self.extra)
        return body


class Invalid(DomainError):
    """Input breaks a rule; `field` names the input."""

    status_code = 400


class Conflict(DomainError):
    status_code = 409


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Unauthorized(DomainError):
    status_code = 401


class TooManyAttempts(DomainError):
    status_code = 429


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "/api/" not in request.url.path and not request.headers.get("hx-request")


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    if _wants_html(request):
        from app.lib.templates import render_page

        return render_page(request, "pages/error.html", {"status": exc.status_code, "detail": exc.detail},
                           status_code=exc.status_code)
    return Response(exc.to_dict(), status_code=exc.status_code)


_MISSING_FIELD = re.compile(r"(?:missing required|contains unknown) field `([^`]+)`")


def validation_error_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Litestar/msgspec validation: say which field is wrong, in the same shape as our own errors."""
    errors = []
    for item in exc.extra or []:
        if isinstance(item, dict):
            key = str(item.get("key") or "").removeprefix("$.") or str(item.get("source") or "body")
            missing = _MISSING_FIELD.search(str(item.get("message", "")))
            if missing:  # msgspec reports a missing or unknown field at its parent (`data` for the body itself)
                key = missing.group(1) if key in ("data", "body") else f"{key}.{missing.group(1)}"
            errors.append({"field": key, "message": str(item.get("message", ""))})
    detail = exc.detail
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return Response({"detail": detail, "status_code": 400, "errors": errors}, status_code=400)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if _wants_html(request) and exc.status_code in (401, 403, 404, 405):
        from app.lib.templates import render_page

        return render_page(request, "pages/error.html", {"status": exc.status_code, "detail": exc.detail},
                           status_code=exc.status_code)
    body: dict[str, Any] = {"detail": exc.detail, "status_code": exc.status_code}
    return Response(body, status_code=exc.status_code, headers=exc.headers)


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    import structlog

    structlog.get_logger("app.errors").exception("unhandled_error", path=request.url.path)
    return Response({"detail": "Internal server error; it has been logged.", "status_code": 500},
                    status_code=HTTP_500_INTERNAL_SERVER_ERROR)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
}
