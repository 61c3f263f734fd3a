"""HTTP mapping of errors: JSON for the API, the error page for a person (the app registers EXCEPTION_HANDLERS)."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from app.lib import i18n, reqctx
from app.lib.errors import DomainError, Invalid
from app.lib.i18n import N_
from app.lib.templates import render_page

log = structlog.get_logger("app.lib.errors")


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "/api/" not in request.url.path and not request.headers.get("hx-request")


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    retry_after = exc.extra.get("retry_after")
    headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else None
    if _wants_html(request):
        response = render_page(request, "pages/error.html", {"status": exc.status_code, "detail": exc.detail},
                               status_code=exc.status_code)
        if headers:
            response.headers.update(headers)
        return response
    return Response(exc.to_dict(), status_code=exc.status_code, headers=headers)


_MISSING_FIELD = re.compile(r"(?:missing required|contains unknown) field `([^`]+)`")

# The shapes of msgspec's (and so Litestar's) validation messages, as catalogue templates: the reader gets them in
# their language with the values (types, bounds, the field) kept as they were.
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Expected `(?P<expected>[^`]+)`, got `(?P<got>[^`]+)`"),
     N_("Expected `%(expected)s`, got `%(got)s`")),
    (re.compile(r"Expected `(?P<type>[^`]+)` of length (?P<op>[<>]=?) (?P<bound>\S+)"),
     N_("Expected `%(type)s` of length %(op)s %(bound)s")),
    (re.compile(r"Expected `(?P<type>[^`]+)` (?P<op>[<>]=?) (?P<bound>\S+)"),
     N_("Expected `%(type)s` %(op)s %(bound)s")),
    (re.compile(r"Expected `(?P<type>[^`]+)` matching regex (?P<regex>.+)"),
     N_("Expected `%(type)s` matching regex %(regex)s")),
    (re.compile(r"Invalid enum value (?P<value>.+)"), N_("Invalid enum value %(value)s")),
    (re.compile(r"Object missing required field `(?P<field>[^`]+)`"), N_("Object missing required field `%(field)s`")),
    (re.compile(r"Object contains unknown field `(?P<field>[^`]+)`"), N_("Object contains unknown field `%(field)s`")),
    (re.compile(r"Invalid RFC3339 encoded datetime"), N_("Invalid RFC3339 encoded datetime")),
    (re.compile(r"Invalid RFC3339 encoded date"), N_("Invalid RFC3339 encoded date")),
    (re.compile(r"Invalid RFC3339 encoded time"), N_("Invalid RFC3339 encoded time")),
)


def validation_message(item: dict[str, Any]) -> str:
    """One validation message in the reader's language: ours (app.lib.edge) from its template, msgspec's by its
    shape (a trailing "- at `$.path`" is kept as it is); anything else as it came."""
    template, params = item.get("template"), item.get("params")
    if isinstance(template, str):
        try:
            return i18n.gettext(template, **params) if isinstance(params, dict) and params else i18n.gettext(template)
        except (KeyError, ValueError, TypeError):
            return str(item.get("message", ""))
    message = str(item.get("message", ""))
    head, at, where = message.partition(" - at `")
    for shape, text in _SHAPES:
        found = shape.fullmatch(head)
        if found:
            try:
                return i18n.gettext(text, **found.groupdict()) + (at + where if at else "")
            except (KeyError, ValueError, TypeError):
                return message
    return message


def validation_error_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Litestar/msgspec validation: say which field is wrong, in the same shape as our own errors."""
    errors = []
    for item in exc.extra or []:
        if isinstance(item, dict):
            if item.get("message") == repr(item.get("key")):
                # Litestar 2.25 bug: serving /schema adds the path parameters a handler does not take (`slug`) to
                # its signature fields; a later validation error then also lists them, with a KeyError as message.
                continue
            key = str(item.get("key") or "").removeprefix("$.") or str(item.get("source") or "body")
            missing = _MISSING_FIELD.search(str(item.get("message", "")))
            if missing:  # msgspec reports a missing or unknown field at its parent (`data` for the body itself)
                key = missing.group(1) if key in ("data", "body") else f"{key}.{missing.group(1)}"
            errors.append({"field": key, "message": validation_message(item)})
    detail = exc.detail
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    if _wants_html(request):
        return render_page(request, "pages/error.html", {"status": 400, "detail": detail}, status_code=400)
    return Response({"detail": detail, "status_code": 400, "errors": errors}, status_code=400)


LITESTAR_DETAILS = (N_("Not Found"), N_("Method Not Allowed"), N_("Unauthorized"), N_("Forbidden"),
                    N_("Bad Request"), N_("Request Entity Too Large"), N_("Too Many Requests"))
"""Litestar's own refusals (`NotFoundException()` says "Not Found"): in the catalogues, shown translated."""


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if exc.status_code >= 500:
        return internal_error_handler(request, exc)
    detail = exc.detail
    if detail in LITESTAR_DETAILS:  # a path no route matches never met the tenant middleware: the browser's language
        language = i18n.current().language if i18n.chosen() else i18n.negotiate(request.headers.get(
            "accept-language", ""))
        detail = i18n.translations(language or i18n.DEFAULT_LANGUAGE).gettext(detail)
    if _wants_html(request) and exc.status_code in (401, 403, 404, 405):
        return render_page(request, "pages/error.html", {"status": exc.status_code, "detail": detail},
                           status_code=exc.status_code)
    body: dict[str, Any] = {"detail": detail, "status_code": exc.status_code}
    return Response(body, status_code=exc.status_code, headers=exc.headers)


# SQLSTATEs of a value PostgreSQL cannot take (22000: asyncpg refused to encode it, e.g. past int32; too long; out of
# range; bad datetime; NUL or untranslatable character). Input should have been refused at the edge (app.lib.edge,
# app.lib.wire); this keeps the answer a 400 when a route slipped through, and logs it so the route gets fixed.
_BAD_VALUE_SQLSTATES = frozenset({"22000", "22001", "22003", "22007", "22008", "22021", "22P05"})


def database_value_error_handler(request: Request[Any, Any, Any], exc: asyncpg.exceptions.DataError) -> Response[Any]:
    if getattr(exc, "sqlstate", None) not in _BAD_VALUE_SQLSTATES:
        return internal_error_handler(request, exc)
    log.warning("bad_value_reached_database", method=request.method, path=request.url.path,
                request_id=reqctx.request_id(request.scope), exc_info=exc)
    return domain_error_handler(request, Invalid("A value in the request cannot be stored (%(problem)s); correct it "
                                                 "and try again.", problem=str(exc).splitlines()[0]))


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Any unhandled exception: the traceback goes to the log with the request id, and the person gets that id to
    quote (the response's `X-Request-ID` header carries it too)."""
    rid = reqctx.request_id(request.scope)
    log.error("unhandled_error", method=request.method, path=request.url.path, request_id=rid, exc_info=exc)
    detail = i18n.gettext(i18n.N_("Something went wrong on our side and it has been logged. Quote request id "
                                  "%(rid)s when you report it."), rid=rid)
    if _wants_html(request):
        return render_page(request, "pages/error.html", {"status": 500, "detail": detail, "request_id": rid},
                           status_code=HTTP_500_INTERNAL_SERVER_ERROR)
    return Response({"detail": detail, "status_code": 500, "request_id": rid},
                    status_code=HTTP_500_INTERNAL_SERVER_ERROR)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    asyncpg.exceptions.DataError: database_value_error_handler,
    Exception: internal_error_handler,
}
