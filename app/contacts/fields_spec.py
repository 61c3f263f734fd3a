"""The built-in fields of a contact, declared once.

Each `ContactField` says what the field is on the wire (the API structs in `schemas` are built from it), whether a
client may write it, which CSV export column shows it, what the import mapping offers for it, how a merge treats it
and where the card shows and edits it. Admin-defined fields (`app.contacts.fields`) live in `Contact.custom` and
are declared by each tenant, not here.

Adding a built-in field: a column on `tables.Contact` (and its migration), a line in `FIELDS`, a rule in
`services._clean` if its kind (or a list's item kind) is new. The structs, the validation, the export, the import
mapping and fill, the merge, the new-contact form and the card follow.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from app.contacts.tables import TEMPERATURES
from app.lib.i18n import N_
from app.lib.wire import Id

# What a field's kind is on the wire: (input type, input default, output type).
_WIRE: dict[str, tuple[Any, Any, Any]] = {
    "id": (None, None, int),
    "text": (str, "", str),
    "longtext": (str, "", str),
    "list": (list[str], [], list[str]),
    "choice": (str | None, None, str | None),
    "language": (str, "", str),
    "timezone": (str, "", str),
    "user": (Id | None, None, int | None),
    "name": (None, None, str | None),
    "date": (dt.date | None, None, dt.date | None),
    "custom": (dict[str, Any], {}, dict[str, Any]),
    "timestamp": (None, None, dt.datetime),
    "timestamp?": (None, None, dt.datetime | None),
    "version": (None, None, int),
    "flag": (None, None, bool),
}

MERGE_RULES = ("fill", "union", "identities", "custom")
"""fill: empty on the survivor takes the other's, both set and different keeps the survivor's (the other's is kept
in the merge entry); union: the lists are joined; identities: moved by a merge step (phones, emails); custom: per
key, like fill."""

ITEMS = ("phone", "email", "tag")
"""What the items of a "list" field are: how they are normalised (services._clean) and split in an import."""

SECTIONS = ("main", "identities", "details", "custom")
"""The card's sections, in page order; each edits the fields declared in it."""


@dataclasses.dataclass(frozen=True)
class ImportTarget:
    label: str
    """The choice as the mapping form shows it (English, marked N_; translated where it is shown)."""
    joiner: str | None
    """How several columns mapped here combine: a separator for text, None for lists, "" for one column only."""


@dataclasses.dataclass(frozen=True)
class ContactField:
    name: str
    """The key on the wire and in the services' dicts."""
    label: str
    """What a person reads on the card."""
    kind: str
    """One of `_WIRE`: decides the wire types, the card's input and how the card's form is read."""
    writable: bool = True
    """In `ContactIn` (create) and `ContactPatch` (update); read-only fields are only in `ContactOut`."""
    column: str | None = None
    """The `contact` table column ("owner.name" follows the foreign key); None when stored elsewhere (phones)."""
    export: str | None = None
    """The CSV export column's header; None: not exported."""
    importable: ImportTarget | None = None
    merge: str | None = None
    """One of MERGE_RULES; None: the survivor's value stays (ids, timestamps)."""
    section: str | None = None
    """The card section that edits it; None: not edited on the card."""
    hint: str = ""
    """A short help text next to the card's input."""
    options: tuple[str, ...] = ()
    """The values a "choice" field takes."""
    items: str = ""
    """For a "list" field: one of ITEMS."""
    max_items: int | None = None
    """For a "list" field: how many items it holds at most (a merge's union keeps the first ones)."""
    identifies: bool = False
    """A contact needs at least one of these fields (to be created; an import maps a column to one of them)."""
    on_new_form: bool = False
    """Asked for on the new-contact page (in the order of FIELDS)."""


FIELDS: tuple[ContactField, ...] = (
    ContactField("id", "Id", "id", writable=False, column="id", export="id"),
    ContactField("name", N_("Name"), "text", column="name", export="name", importable=ImportTarget(N_("Name"), " "),
                 merge="fill", section="main", identifies=True, on_new_form=True),
    ContactField("company", N_("Company"), "text", column="company", export="company",
                 importable=ImportTarget(N_("Company"), ""), merge="fill", section="main", identifies=True,
                 on_new_form=True),
    ContactField("phones", N_("Phones"), "list", export="phones", importable=ImportTarget(N_("Phone(s)"), None),
                 merge="identities", section="identities", hint=N_("Comma-separated."), items="phone",
                 identifies=True, on_new_form=True),
    ContactField("emails", N_("Emails"), "list", export="emails", importable=ImportTarget(N_("Email(s)"), None),
                 merge="identities", section="identities", hint=N_("Comma-separated."), items="email",
                 identifies=True, on_new_form=True),
    ContactField("tags", N_("Tags"), "list", column="tags", export="tags",
                 importable=ImportTarget(N_("Tags (comma-separated)"), None), merge="union", section="main",
                 items="tag", max_items=50, on_new_form=True),
    ContactField("temperature", N_("Temperature"), "choice", column="temperature", export="temperature",
                 importable=ImportTarget(N_("Temperature (hot / warm / cold)"), ""), merge="fill", section="main",
                 options=TEMPERATURES, on_new_form=True),
    ContactField("temperature_manual", N_("Temperature set by hand"), "flag", writable=False,
                 column="temperature_manual"),
    ContactField("owner_id", N_("Owner"), "user", column="owner", export="owner", merge="fill", section="main"),
    ContactField("owner_name", N_("Owner"), "name", writable=False, column="owner.name"),
    ContactField("language", N_("Language"), "language", column="language", section="main"),
    ContactField("birth_date", N_("Birth date"), "date", column="birth_date", export="birth_date",
                 importable=ImportTarget(N_("Birth date"), ""), merge="fill", section="details"),
    ContactField("address", N_("Address"), "longtext", column="address", export="address",
                 importable=ImportTarget(N_("Address"), ", "), merge="fill", section="details"),
    ContactField("preferences", N_("Preferences"), "longtext", column="preferences",
                 importable=ImportTarget(N_("Preferences"), "; "), merge="fill", section="details"),
    ContactField("custom", N_("Custom fields"), "custom", column="custom", merge="custom", section="custom"),
    ContactField("last_contact_at", N_("Last contact"), "timestamp?", writable=False, column="last_contact_at",
                 export="last_contact_at"),
    ContactField("created_at", N_("Created"), "timestamp", writable=False, column="created_at", export="created_at"),
    ContactField("updated_at", N_("Updated"), "timestamp", writable=False, column="updated_at"),
    ContactField("version", "Version", "version", writable=False, column="version"),
    ContactField("timezone", N_("Time zone"), "timezone", column="timezone", export="timezone",
                 importable=ImportTarget(N_("Time zone"), ""), merge="fill", section="main",
                 hint=N_("Like Europe/Sofia. Empty: the portal and the chat show the customer's browser's, emails "
                         "the workspace's.")),
)
BY_NAME = {f.name: f for f in FIELDS}

Fields = tuple[ContactField, ...]


def writable(fields: Fields = FIELDS) -> tuple[str, ...]:
    """What create and update take."""
    return tuple(f.name for f in fields if f.writable)


def exported(fields: Fields = FIELDS) -> Fields:
    """The exported fields, in column order (the order of FIELDS)."""
    return tuple(f for f in fields if f.export)


def importable(fields: Fields = FIELDS) -> Fields:
    return tuple(f for f in fields if f.importable is not None)


def identifying(fields: Fields = FIELDS) -> tuple[str, ...]:
    """A contact needs one of these (create refuses a contact with none; an import must map a column to one)."""
    return tuple(f.name for f in fields if f.identifies)


def new_form(fields: Fields = FIELDS) -> Fields:
    """The fields the new-contact page asks for, in order."""
    return tuple(f for f in fields if f.on_new_form)


def list_limits(fields: Fields = FIELDS) -> dict[str, int]:
    """How many items each bounded list field holds at most."""
    return {f.name: f.max_items for f in fields if f.kind == "list" and f.max_items is not None}


def merged(rule: str, fields: Fields = FIELDS) -> tuple[str, ...]:
    return tuple(f.name for f in fields if f.merge == rule)


def in_section(section: str, fields: Fields = FIELDS) -> Fields:
    return tuple(f for f in fields if f.section == section)


def card_sections(fields: Fields = FIELDS) -> dict[str, Fields]:
    """Each card section and the built-in fields it edits, in page order (what the card template loops over)."""
    return {section: in_section(section, fields) for section in SECTIONS}


CARD = card_sections()


def wire(kind: str) -> tuple[Any, Any, Any]:
    return _WIRE[kind]
