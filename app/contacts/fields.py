"""Custom fields: tenant admins define them; values are validated like built-in fields, in forms and the API."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Generator
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from app.accounts.tables import User
from app.audit import services as audit
from app.contacts.tables import Contact, CustomField
from app.lib.errors import Conflict, Invalid, NotFound

KINDS = ("text", "number", "date", "boolean", "select", "multiselect")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
T = TypeVar("T")
FIELD_COLUMNS = (CustomField.id, CustomField.key, CustomField.label, CustomField.kind, CustomField.options,
                 CustomField.required, CustomField.unique, CustomField.position, CustomField.archived)


async def definitions(include_archived: bool = False) -> list[dict[str, Any]]:
    query = CustomField.select(*FIELD_COLUMNS).order_by(CustomField.position).order_by(CustomField.id)
    if not include_archived:
        query = query.where(CustomField.archived == False)  # noqa: E712 (SQL, not Python truthiness)
    return await query


async def create(actor: Any, *, key: str, label: str, kind: str, options: list[str], required: bool,
                 unique: bool, position: int) -> dict[str, Any]:
    key = (key or "").strip().lower()
    if not KEY_RE.match(key):
        raise Invalid("The key must be 1 to 40 characters: lowercase letters, digits and _, starting with a letter.",
                      field="key")
    label = (label or "").strip()
    if not label or len(label) > 100:
        raise Invalid("The label must be 1 to 100 characters.", field="label")
    if kind not in KINDS:
        raise Invalid("Unknown field type %(kind)s; choose one of: %(choices)s.", field="kind", kind=repr(kind),
                      choices=', '.join(KINDS))
    options = [o.strip() for o in options if o and o.strip()]
    if kind in ("select", "multiselect") and not options:
        raise Invalid("A select field needs at least one option.", field="options")
    if len(set(options)) != len(options):
        raise Invalid("Options must be different from each other.", field="options")
    if unique and kind in ("boolean", "multiselect"):
        raise Invalid("A %(kind)s field cannot be unique.", field="unique", kind=kind)
    if await CustomField.exists().where(CustomField.key == key):
        raise Conflict("A field with key %(key)s exists already.", field="key", key=repr(key))
    rows = await CustomField.insert(CustomField(key=key, label=label, kind=kind, options=options, required=required,
                                                unique=unique, position=position)).returning(CustomField.id)
    await audit.record("custom_field.created", actor_id=actor.user_id, actor=actor.label, target_type="custom_field",
                       target_id=key, detail={"kind": kind, "required": required, "unique": unique})
    return await CustomField.select(*FIELD_COLUMNS).where(CustomField.id == rows[0]["id"]).first()  # type: ignore[return-value]


async def archive(actor: Any, field_id: int) -> None:
    updated = await CustomField.update({CustomField.archived: True}).where(CustomField.id == field_id).returning(
        CustomField.key)
    if not updated:
        raise NotFound("No custom field %(field_id)s.", field_id=field_id)
    await audit.record("custom_field.archived", actor_id=actor.user_id, actor=actor.label,
                       target_type="custom_field", target_id=updated[0]["key"])


def _coerce(defn: dict[str, Any], value: Any) -> Any:
    kind, key, label = defn["kind"], defn["key"], defn["label"]
    field = f"custom.{key}"
    if kind == "text":
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise Invalid("%(label)s must be text.", field=field, label=label)
        text = str(value).strip()
        if len(text) > 2000:
            raise Invalid("%(label)s must be at most 2000 characters.", field=field, label=label)
        return text
    if kind == "number":
        if isinstance(value, bool):
            raise Invalid("%(label)s must be a number.", field=field, label=label)
        try:
            number = Decimal(str(value).strip().replace(",", ".").replace(" ", ""))
        except InvalidOperation:
            raise Invalid("%(label)s must be a number, e.g. 12 or 3.5.", field=field, label=label) from None
        if not number.is_finite():
            raise Invalid("%(label)s must be a finite number.", field=field, label=label)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "date":
        if isinstance(value, dt.date):
            return value.isoformat()
        try:
            return dt.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise Invalid("%(label)s must be a date written as YYYY-MM-DD.", field=field, label=label) from None
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"true", "yes", "1", "on", "да"}:
            return True
        if text in {"false", "no", "0", "off", "нет"}:
            return False
        raise Invalid("%(label)s must be yes or no.", field=field, label=label)
    if kind == "select":
        if value not in defn["options"]:
            raise Invalid("%(label)s must be one of: %(choices)s.", field=field, label=label,
                          choices=', '.join(defn['options']))
        return value
    if kind == "multiselect":
        values = value if isinstance(value, list) else [v.strip() for v in str(value).split(",") if v.strip()]
        bad = [v for v in values if v not in defn["options"]]
        if bad:
            raise Invalid("%(label)s: %(choices)s not allowed; choose from: %(options)s.", field=field, label=label,
                          choices=', '.join(map(str, bad)), options=', '.join(defn['options']))
        return list(dict.fromkeys(values))
    raise Invalid("%(label)s has an unknown type.", field=field, label=label)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


Check = tuple[str, Any]
"""A question a rule needs the database for, yielded by a `cleaning` generator: ("user", id) - is it an active user;
("unique", (key, json)) - does another live contact hold this custom value. The answer is sent back (a bool)."""


def cleaning(values: dict[str, Any], defs: list[dict[str, Any]], *,
             current: dict[str, Any] | None = None) -> Generator[Check, bool, dict[str, Any]]:
    """The rules of `validate` as a generator: it yields the database questions (`Check`) in rule order and returns
    the full custom dict. `validate` answers them with queries; a caller that has every answer (or no question can
    come up: no unique field among `values`) runs it with `run_plain` - the contact import, many rows at once."""
    by_key = {d["key"]: d for d in defs}
    unknown = sorted(set(values) - set(by_key))
    if unknown:
        raise Invalid("Unknown custom field %(unknown)s; define it in settings first.", field=f"custom.{unknown[0]}",
                      unknown=repr(unknown[0]))
    result = dict(current or {})
    for key, value in values.items():
        if _empty(value):
            result.pop(key, None)
        else:
            result[key] = _coerce(by_key[key], value)
    for key, defn in by_key.items():
        if defn["required"] and _empty(result.get(key)):
            raise Invalid("%(label)s is required.", field=f"custom.{key}", label=defn['label'])
        if defn["unique"] and key in values and not _empty(result.get(key)):
            if (yield ("unique", (key, json.dumps(result[key])))):
                raise Conflict("Another contact already has %(label)s = %(result)s.", field=f"custom.{key}",
                               label=defn['label'], result=result[key])
    return result


class NeedsDatabase(Exception):
    """`run_plain` met a rule that asks the database (a unique custom field, an owner)."""


def run_plain(rules: Generator[Check, bool, T]) -> T:
    """Run a `cleaning` generator that must not ask the database (NeedsDatabase if it does)."""
    try:
        check = next(rules)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    rules.close()
    raise NeedsDatabase(check[0])


async def run_checked(rules: Generator[Check, bool, T], *, contact_id: int | None) -> T:
    """Run a `cleaning` generator, answering its questions with queries (`contact_id` is not "another" contact)."""
    try:
        check = next(rules)
        while True:
            check = rules.send(await _answer(check, contact_id))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def _answer(check: Check, contact_id: int | None) -> bool:
    kind, arg = check
    if kind == "user":
        return bool(await User.exists().where((User.id == arg) & (User.status == "active")))
    key, value = arg
    taken = await Contact.raw(
        "SELECT EXISTS (SELECT 1 FROM contact WHERE custom -> {} = {}::jsonb AND deleted_at IS NULL "
        "AND id <> {}) AS taken", key, value, contact_id or 0)
    return bool(taken[0]["taken"])


async def validate(values: dict[str, Any], *, current: dict[str, Any] | None = None,
                   contact_id: int | None = None) -> dict[str, Any]:
    """Clean `values` against the definitions; returns the full custom dict to store (merged onto `current`)."""
    return await run_checked(cleaning(values, await definitions(), current=current), contact_id=contact_id)
