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


async def validate(values: dict[str, Any], *, current: dict[str, Any] | None = None,
                   contact_id: int | None = None) -> dict[str, Any]:
    """Clean `values` against the definitions; returns the full custom dict to store (merged onto `current`)."""
    defs = {d["key"]: d for d in await definitions()}
    unknown = sorted(set(values) - set(defs))
    if unknown:
        raise Invalid("Unknown custom field %(unknown)s; define it in settings first.", field=f"custom.{unknown[0]}",
                      unknown=repr(unknown[0]))
    result = dict(current or {})
    for key, value in values.items():
        if _empty(value):
            result.pop(key, None)
        else:
            result[key] = _coerce(defs[key], value)
    for key, defn in defs.items():
        if defn["required"] and _empty(result.get(key)):
            raise Invalid("%(label)s is required.", field=f"custom.{key}", label=defn['label'])
        if defn["unique"] and key in values and not _empty(result.get(key)):
            taken = await Contact.raw(
                "SELECT EXISTS (SELECT 1 FROM contact WHERE custom -> {} = {}::jsonb AND deleted_at IS NULL "
                "AND id <> {}) AS taken", key, json.dumps(result[key]), contact_id or 0)
            if taken[0]["taken"]:
                raise Conflict("Another contact already has %(label)s = %(result)s.", field=f"custom.{key}",
                               label=defn['label'], result=result[key])
    return result
