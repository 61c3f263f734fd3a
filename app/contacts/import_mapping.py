"""Mapping CSV columns to contact fields: the choices, a guess from header names (English and Russian), and
turning one row into the values `services.create` / `services.update` take (they do all the validating)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from app.contacts import fields_spec as spec
from app.lib.errors import Invalid
from app.lib.i18n import N_

IGNORE = "ignore"
CUSTOM_PREFIX = "custom."


@dataclasses.dataclass(frozen=True)
class Target:
    key: str
    label: str
    """English (N_) for the built-in fields and "ignore", to translate where shown; a custom field's as typed."""
    joiner: str | None
    """How several columns mapped here combine: a separator for text, None for lists, "" for one column only."""


def builtin(fields: spec.Fields = spec.FIELDS) -> tuple[Target, ...]:
    """The built-in fields a column can map to, from the one declaration (app.contacts.fields_spec)."""
    return tuple(Target(f.name, f.importable.label, f.importable.joiner) for f in spec.importable(fields)
                 if f.importable is not None)


BUILTIN = builtin()
_JOINERS = {t.key: t.joiner for t in BUILTIN}

# Header words → field. Compared after lower-casing, folding yo into ye and dropping punctuation and spaces.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": ("name", "fullname", "contact", "contactname", "client", "clientname", "customer", "customername",
             "firstname", "lastname", "surname", "middlename", "person", "имя", "фио", "фамилия", "отчество",
             "клиент", "контакт", "контактноелицо", "покупатель", "заказчик", "контрагент", "наименование",
             "имяклиента", "фиоклиента"),
    "company": ("company", "companyname", "organization", "organisation", "org", "employer", "business", "firm",
                "account", "компания", "организация", "фирма", "юрлицо", "работодатель", "названиекомпании",
                "наименованиеорганизации"),
    "phones": ("phone", "phones", "tel", "telephone", "mobile", "mobilephone", "cell", "cellphone", "phonenumber",
               "workphone", "homephone", "whatsapp", "телефон", "телефоны", "тел", "мобильный", "мобильныйтелефон",
               "сотовый", "номертелефона", "рабочийтелефон", "домашнийтелефон", "контактныйтелефон"),
    "emails": ("email", "emails", "mail", "emailaddress", "почта", "электроннаяпочта", "элпочта", "емейл", "емэйл",
               "имейл", "адресэлектроннойпочты"),
    "tags": ("tags", "tag", "labels", "label", "groups", "group", "теги", "тег", "метки", "метка", "группа",
             "группы"),
    "temperature": ("temperature", "leadtemperature", "температура"),
    "birth_date": ("birthdate", "birthday", "dateofbirth", "dob", "bday", "датарождения", "деньрождения", "др"),
    "address": ("address", "street", "city", "postaladdress", "адрес", "улица", "город", "почтовыйадрес",
                "адресдоставки", "фактическийадрес", "юридическийадрес"),
    "preferences": ("preferences", "notes", "note", "comment", "comments", "remarks", "предпочтения", "комментарий",
                    "комментарии", "примечание", "примечания", "заметки"),
    "timezone": ("timezone", "tz", "zone", "часовойпояс", "часоваязона", "часовазона", "таймзона"),
}
_LOOKUP = {word: key for key, words in SYNONYMS.items() for word in words}
TEMPERATURE_WORDS = {"горячий": "hot", "горячая": "hot", "теплый": "warm", "тёплый": "warm", "теплая": "warm",
                     "холодный": "cold", "холодная": "cold",
                     "горещ": "hot", "гореща": "hot", "топъл": "warm", "топла": "warm", "студен": "cold",
                     "студена": "cold"}
_ITEM_SPLIT = {"phone": re.compile(r"[,;\n]+"), "email": re.compile(r"[,;\s]+"), "tag": re.compile(r"[,;\n]+")}
_LIST_SPLIT = {f.name: _ITEM_SPLIT[f.items] for f in spec.importable() if f.kind == "list"}
_DMY = re.compile(r"^(\d{1,2})[./](\d{1,2})[./](\d{4})$")
_DMY_TIME = re.compile(r"^\d{1,2}[./]\d{1,2}[./]\d{4} \d")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]")
_ISO_SPACE = re.compile(r"^\d{4}-\d{2}-\d{2} ")
_DATE_FIELDS = frozenset(f.name for f in spec.FIELDS if f.kind == "date")


def _norm(header: str) -> str:
    return re.sub(r"[\W_]+", "", header.lower().replace("\u0451", "\u0435"))  # yo -> ye


def targets(defs: list[dict[str, Any]]) -> list[Target]:
    """Every choice of the mapping form, custom fields after the built-in ones, "ignore" last."""
    return [*BUILTIN, *(Target(CUSTOM_PREFIX + d["key"], d["label"], "") for d in defs),
            Target(IGNORE, N_("— ignore —"), None)]


def suggest(header: list[str], defs: list[dict[str, Any]]) -> list[str]:
    """A field per column from its name; a single-value field goes to the first column that names it."""
    custom = {_norm(d["key"]): CUSTOM_PREFIX + d["key"] for d in defs}
    custom.update({_norm(d["label"]): CUSTOM_PREFIX + d["key"] for d in defs})
    joiners = {t.key: t.joiner for t in targets(defs)}
    taken: set[str] = set()
    out: list[str] = []
    for name in header:
        norm = _norm(name)
        # Custom fields win over the synonyms: a tenant's own "Город" field beats the address guess.
        key = custom.get(norm) or _LOOKUP.get(norm) or _by_word(norm) or IGNORE
        if joiners.get(key) == "" and key in taken:
            key = IGNORE
        taken.add(key)
        out.append(key)
    return out


# Words that name the field wherever they appear in a header (`Телефон 2`, `Work phone`, `E-mail 1`), in
# this order: "email address" is an email, "почтовый адрес" an address.
_CONTAINS = (("phones", ("phone", "телефон", "mobile")), ("emails", ("email", "почта", "почты")),
             ("address", ("address", "адрес")))


def _by_word(norm: str) -> str | None:
    for key, words in _CONTAINS:
        if any(word in norm for word in words):
            return key
    return None


def check(fields: list[str], header: list[str], defs: list[dict[str, Any]]) -> list[str]:
    """Validate a mapping sent by a client: one known field per column, single-value fields at most once."""
    if len(fields) != len(header):
        raise Invalid("The mapping needs one field per column: the file has %(columns)s columns, the mapping "
                      "%(fields)s.", field="fields", columns=len(header), fields=len(fields))
    joiners = {t.key: t.joiner for t in targets(defs)}
    seen: dict[str, int] = {}
    for i, key in enumerate(fields):
        if key not in joiners:
            raise Invalid("Column %(header)s: unknown field %(key)s; choose one of: %(choices)s.", field=f"fields[{i}]",
                          header=repr(header[i]), key=repr(key), choices=', '.join(joiners))
        if joiners[key] == "" and key in seen:
            raise Invalid("Column %(header)s: %(key)s is already mapped from column %(other)s; a field that holds "
                          "one value takes one column.", field=f"fields[{i}]", header=repr(header[i]), key=key,
                          other=repr(header[seen[key]]))
        seen.setdefault(key, i)
    if not set(spec.identifying()) & set(fields):
        raise Invalid("Map at least one column to name, company, phone or email.", field="fields")
    return fields


def row_values(fields: list[str], cells: list[str], kinds: dict[str, str]) -> dict[str, Any]:
    """The row as service input: only fields with a value; lists split; dates written 31.12.1990 turned ISO.
    `kinds` maps custom field keys to their type. No validation here: the services do it, naming the field."""
    text: dict[str, list[str]] = {}
    lists: dict[str, list[str]] = {}
    for key, cell in zip(fields, cells, strict=False):
        cell = cell.strip()
        if key == IGNORE or not cell:
            continue
        if key in _LIST_SPLIT:
            lists.setdefault(key, []).extend(p.strip() for p in _LIST_SPLIT[key].split(cell) if p.strip())
        else:
            text.setdefault(key, []).append(cell)
    joiners = _JOINERS
    values: dict[str, Any] = dict(lists)
    custom: dict[str, Any] = {}
    for key, parts in text.items():
        if key.startswith(CUSTOM_PREFIX):
            name = key[len(CUSTOM_PREFIX):]
            custom[name] = _iso_date(parts[0]) if kinds.get(name) == "date" else parts[0]
        elif key == "temperature":
            values[key] = TEMPERATURE_WORDS.get(parts[0].lower(), parts[0].lower())
        elif key in _DATE_FIELDS:
            values[key] = _iso_date(parts[0])
        else:
            values[key] = (joiners.get(key) or " ").join(parts)
    if custom:
        values["custom"] = custom
    return values


def _iso_date(text: str) -> str:
    """`31.12.1990`, `31/12/1990` and 1C's `31.12.1990 0:00:00` as ISO; anything else is left for the services
    to refuse with their own message."""
    day = text.split(" ", 1)[0] if _DMY_TIME.match(text) else text
    day = day.split("T", 1)[0] if _ISO_TIME.match(day) else day
    if (m := _DMY.match(day)) is not None:
        return f"{m.group(3)}-{int(m.group(2)):02d}-{int(m.group(1)):02d}"
    return day.split(" ", 1)[0] if _ISO_SPACE.match(day) else day
