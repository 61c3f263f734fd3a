"""Custom fields: tenant admins define them; values are validated like built-in fields, in forms and the API."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from app.audit import services as audit
from app.contacts.tables import Contact, CustomField
from app.lib.errors import Conflict, Invalid, NotFound

KINDS = ("text", "number", "date", "boolean", "select", "multiselect")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
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
        raise Invalid(f"Unknown field type {kind!r}; choose one of: {', '.join(KINDS)}.", field="kind")
    options = [o.strip() for o in options if o and o.strip()]
    if kind in ("select", "multiselect") and not options:
        raise Invalid("A select field needs at least one option.", field="options")
    if len(set(options)) != len(options):
        raise Invalid("Options must be different from each other.", field="options")
    if unique and kind in ("boolean", "multiselect"):
        raise Invalid(f"A {kind} field cannot be unique.", field="unique")
    if await CustomField.exists().where(CustomField.key == key):
        raise Conflict(f"A field with key {key!r} exists already.", field="key")
    rows = await CustomField.insert(CustomField(key=key, label=label, kind=kind, options=options, required=required,
                                                unique=unique, position=position)).returning(CustomField.id)
    await audit.record("custom_field.created", actor_id=actor.user_id, actor=actor.label, target_type="custom_field",
                       target_id=key, detail={"kind": kind, "required": required, "unique": unique})
    return await CustomField.select(*FIELD_COLUMNS).where(CustomField.id == rows[0]["id"]).first()  # type: ignore[return-value]


async def archive(actor: Any, field_id: int) -> None:
    updated = await CustomField.update({CustomField.archived: True}).where(CustomField.id == field_id).returning(
        CustomField.key)
    if not updated:
        raise NotFound(f"No custom field {field_id}.")
    await audit.record("custom_field.archived", actor_id=actor.user_id, actor=actor.label,
                       target_type="custom_field", target_id=updated[0]["key"])


def _coerce(defn: dict[str, Any], value: Any) -> Any:
    kind, key, label = defn["kind"], defn["key"], defn["label"]
    field = f"custom.{key}"
    if kind == "text":
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise Invalid(f"{label} must be text.", field=field)
        text = str(value).strip()
        if len(text) > 2000:
            raise Invalid(f"{label} must be at most 2000 characters.", field=field)
        return text
    if kind == "number":
        if isinstance(value, bool):
            raise Invalid(f"{label} must be a number.", field=field)
        try:
            number = Decimal(str(value).strip().replace(",", ".").replace(" ", ""))
        except InvalidOperation:
            raise Invalid(f"{label} must be a number, e.g. 12 or 3.5.", field=field) from None
        if not number.is_finite():
            raise Invalid(f"{label} must be a finite number.", field=field)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "date":
        if isinstance(value, dt.date):
            return value.isoformat()
        try:
            return dt.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise Invalid(f"{label} must be a date written as YYYY-MM-DD.", field=field) from None
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"true", "yes", "1", "on", "да"}:
            return True
        if text in {"false", "no", "0", "off", "нет"}:
            return False
        raise Invalid(f"{label} must be yes or no.", field=field)
    if kind == "select":
        if value not in defn["options"]:
            raise Invalid(f"{label} must be one of: {', '.join(defn['options'])}.", field=field)
        return value
    if kind == "multiselect":
        values = value if isinstance(value, list) else [v.strip() for v in str(value).split(",") if v.strip()]
        bad = [v for v in values if v not in defn["options"]]
        if bad:
            raise Invalid(f"{label}: {', '.join(map(str, bad))} not allowed; choose from: "
                          f"{', '.join(defn['options'])}.", field=field)
        return list(dict.fromkeys(values))
    raise Invalid(f"{label} has an unknown type.", field=field)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


async def validate(values: dict[str, Any], *, current: dict[str, Any] | None = None,
                   contact_id: int | None = None) -> dict[str, Any]:
    """Clean `values` against the definitions; returns the full custom dict to store (merged onto `current`)."""
    defs = {d["key"]: d for d in await definitions()}
    unknown = sorted(set(values) - set(defs))
    if unknown:
        raise Invalid(f"Unknown custom field {unknown[0]!r}; define it in settings first.",
                      field=f"custom.{unknown[0]}")
    result = dict(current or {})
    for key, value in values.items():
        if _empty(value):
            result.pop(key, None)
        else:
            result[key] = _coerce(defs[key], value)
    for key, defn in defs.items():
        if defn["required"] and _empty(result.get(key)):
            raise Invalid(f"{defn['label']} is required.", field=f"custom.{key}")
        if defn["unique"] and key in values and not _empty(result.get(key)):
            taken = await Contact.raw(
                "SELECT EXISTS (SELECT 1 FROM contact WHERE custom -> {} = {}::jsonb AND deleted_at IS NULL "
                "AND id <> {}) AS taken", key, json.dumps(result[key]), contact_id or 0)
            if taken[0]["taken"]:
                raise Conflict(f"Another contact already has {defn['label']} = {result[key]}.", field=f"custom.{key}")
    return result
