"""What every request's input must satisfy before any handler sees it, checked once for all routes (a before_request
hook), so that impossible values get a 400 naming the field instead of reaching PostgreSQL:

- no NUL character in any text: the path, query names and values, JSON strings and keys, form fields (PostgreSQL
  `text` cannot hold one; files uploaded in a form are bytes and may);
- a JSON body has exactly the types `/schema` documents (Litestar converts loosely: `"true"` or `0` for a boolean,
  a number for a date); path and query values are strings, so they keep the loose conversion except for dates and
  times, which must be written in ISO 8601 (a bare number is not a date);
- a whole number in the path is a record id: 1 to 2147483647 (routes declare it with `app.lib.wire.Id` for
  `/schema`; this catches one that forgot);
- HTML forms and the pages' query strings are read as text by their views, so the naming convention is the rule: a
  field named `id` or `*_id` holds a record id, and `version`, `position`, `upto`, `quantity` and `reply_to` hold
  numbers of an `integer` column; a whole number sent there must fit it.
"""

from __future__ import annotations

import datetime as dt
import types
from typing import Any, Union, get_args, get_origin

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException
from litestar.params import BodyKwarg, ParameterKwarg

from app.lib.i18n import N_
from app.lib.wire import INT32_MAX, INT32_MIN

_TEMPORAL = (dt.datetime, dt.date, dt.time)
_FORM_INTEGERS = frozenset({"version", "position", "upto", "quantity", "reply_to"})


def _refuse(field: str, message: str, source: str, **params: Any) -> ValidationException:
    """`message` is a catalogue template (N_) with `%(name)s` placeholders filled from `params`: the English text is
    the item's `message`; the error handler shows it in the reader's language (app.lib.error_handlers)."""
    return ValidationException(f"Validation failed for {source}", extra=[{
        "key": field, "message": message % params if params else message, "source": source, "template": message,
        "params": params}])


def _refuse_as_msgspec(field: str, message: str, source: str) -> ValidationException:
    """msgspec's own message: the error handler translates it by its shape."""
    return ValidationException(f"Validation failed for {source}", extra=[{"key": field, "message": message,
                                                                          "source": source}])


def _nul_in(value: Any, where: str) -> str | None:
    """The place of the first NUL character in a decoded JSON value or form field, or None."""
    if isinstance(value, str):
        return where if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            place = f"{where}.{key}" if where else str(key)
            if "\x00" in str(key):
                return place
            if found := _nul_in(item, place):
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if found := _nul_in(item, f"{where}[{index}]"):
                return found
    return None


NUL_MESSAGE = N_("must not contain a NUL character (\\u0000)")


def _check_path_and_query(request: Request[Any, Any, Any]) -> None:
    if "\x00" in request.scope["path"]:
        raise _refuse("path", NUL_MESSAGE, "path")
    for key, value in request.query_params.multi_items():
        if "\x00" in key or "\x00" in value:
            raise _refuse(key.replace("\x00", "\\u0000"), NUL_MESSAGE, "query")
        _check_named_number(key, value.strip(), "query")
    for key, value in request.path_params.items():
        if isinstance(value, int) and not 1 <= value <= INT32_MAX:
            raise _refuse(key, N_("must be a record id from 1 to %(max)s"), "path", max=INT32_MAX)


def _temporal(annotation: Any) -> type | None:
    """dt.datetime / dt.date / dt.time when the annotation is one of them (or optional), else None."""
    if get_origin(annotation) in (Union, types.UnionType):
        found = [t for t in get_args(annotation) if t in _TEMPORAL]
        return found[0] if found else None
    return annotation if annotation in _TEMPORAL else None


def _check_dates(request: Request[Any, Any, Any]) -> None:
    for field in request.route_handler.parsed_fn_signature.parameters.values():
        if not isinstance(field.kwarg_definition, ParameterKwarg) and field.name not in request.query_params:
            continue
        kind = _temporal(field.annotation)
        if kind is None:
            continue
        name = (field.kwarg_definition.query if isinstance(field.kwarg_definition, ParameterKwarg) else None) \
            or field.name
        raw = request.query_params.get(name)
        if raw is None:
            continue
        try:
            msgspec.convert(raw, kind, strict=True)
        except msgspec.ValidationError:
            example = {dt.datetime: "2026-01-31T09:30:00Z", dt.date: "2026-01-31", dt.time: "09:30:00"}[kind]
            raise _refuse(name, N_("must be written in ISO 8601, e.g. %(example)s"), "query", example=example) from None


def _check_named_number(key: str, value: str, source: str) -> None:
    digits = value.lstrip("+-")
    is_id, is_int = key == "id" or key.endswith("_id"), key in _FORM_INTEGERS
    if not (is_id or is_int) or not digits.isdigit():
        return
    if not digits.isascii():  # "²" passes str.isdigit() and then breaks int()
        raise _refuse(key, N_("must be written with the digits 0-9"), source)
    number = int(value) if len(digits) <= 19 else INT32_MAX + 1  # (int() refuses past 4300 digits)
    if is_id and not 1 <= number <= INT32_MAX:
        raise _refuse(key, N_("must be a record id from 1 to %(max)s"), source, max=INT32_MAX)
    if is_int and not INT32_MIN <= number <= INT32_MAX:
        raise _refuse(key, N_("must be a whole number from %(min)s to %(max)s"), source, min=INT32_MIN, max=INT32_MAX)


async def _check_body(request: Request[Any, Any, Any]) -> None:
    content_type, _ = request.content_type
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        for key, value in form.multi_items():
            if "\x00" in key or (isinstance(value, str) and "\x00" in value):
                raise _refuse(key.replace("\x00", "\\u0000"), NUL_MESSAGE, "body")
            if isinstance(value, str):
                _check_named_number(key, value.strip(), "body")
        return
    if content_type != "application/json" and not content_type.endswith("+json"):
        return
    body = await request.body()
    if not body:
        return
    data_field = request.route_handler.parsed_data_field
    target: Any = Any
    if data_field is not None and not (isinstance(data_field.kwarg_definition, BodyKwarg)
                                       and data_field.kwarg_definition.media_type != "application/json"):
        target = data_field.annotation
    try:
        value = msgspec.json.decode(body, type=target, strict=True,
                                    dec_hook=request.route_handler.default_deserializer)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `")
        raise _refuse_as_msgspec(where.rstrip("`").removeprefix("$.").removeprefix("$") or "body", message,
                                 "body") from None
    except msgspec.DecodeError:
        return  # not JSON at all: Litestar's own parsing answers that with a 400
    if found := _nul_in(msgspec.to_builtins(value), ""):
        raise _refuse(found or "body", NUL_MESSAGE, "body")


async def check_input(request: Request[Any, Any, Any]) -> None:
    """before_request hook: refuse impossible input with a 400 (ValidationException, shaped by errors.py)."""
    _check_path_and_query(request)
    _check_dates(request)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        await _check_body(request)
