"""Wire shapes of the contacts and timeline API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec

from app.contacts import fields_spec as spec
from app.lib.wire import DbInt, Id, Patch


def _described(f: spec.ContactField, type_: Any) -> Any:
    """The type with the field's label as its description; an id keeps its own (and its bounds in /schema)."""
    return type_ if f.kind == "user" else Annotated[type_, msgspec.Meta(description=f.label)]


def contact_structs(fields: spec.Fields = spec.FIELDS) -> tuple[type[msgspec.Struct], ...]:
    """ContactIn, ContactPatch and ContactOut, built from the one declaration of a contact's fields."""
    contact_in = msgspec.defstruct(
        "ContactIn", [(f.name, _described(f, spec.wire(f.kind)[0]), spec.wire(f.kind)[1])
                      for f in fields if f.writable],
        module=__name__, forbid_unknown_fields=True)
    contact_patch = msgspec.defstruct(
        "ContactPatch", [*((f.name, _described(f, spec.wire(f.kind)[0] | msgspec.UnsetType), msgspec.UNSET)
                           for f in fields if f.writable),
                         ("version", DbInt | msgspec.UnsetType, msgspec.UNSET)],
        module=__name__, bases=(Patch,), forbid_unknown_fields=True, omit_defaults=True,
        namespace={"__doc__": "Only the fields present change. `version`, when sent, must match (optimistic "
                              "concurrency)."})
    contact_out = msgspec.defstruct(
        "ContactOut", [(f.name, _described(f, spec.wire(f.kind)[2])) for f in fields], module=__name__)
    return contact_in, contact_patch, contact_out


ContactIn, ContactPatch, ContactOut = contact_structs()


class ContactList(msgspec.Struct):
    items: list[ContactOut]
    next: str | None = None
    total: int | None = None


class NoteIn(msgspec.Struct, forbid_unknown_fields=True):
    body: str


class InteractionOut(msgspec.Struct):
    id: int
    contact_id: int
    channel: str
    direction: str
    occurred_at: dt.datetime
    actor_type: str
    actor_id: int | None
    actor_label: str
    summary: str
    payload: dict[str, Any]
    links: dict[str, Any]


class TimelinePage(msgspec.Struct):
    items: list[InteractionOut]
    next: str | None = None


class CustomFieldIn(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    label: str
    kind: str
    options: list[str] = []
    required: bool = False
    unique: bool = False
    position: DbInt = 0


class CustomFieldOut(msgspec.Struct):
    id: int
    key: str
    label: str
    kind: str
    options: list[str]
    required: bool
    unique: bool
    position: int
    archived: bool


class MergeIn(msgspec.Struct, forbid_unknown_fields=True):
    other_id: Id
    """The contact merged into this one (it disappears; everything of it moves here)."""


class FileOut(msgspec.Struct):
    id: int
    contact_id: int
    filename: str
    content_type: str
    """Decided by the server from the file's first bytes, never taken from the client."""
    size: int
    sha256: str
    uploaded_by_id: int | None
    uploaded_by_name: str | None
    created_at: dt.datetime


class DuplicateOut(msgspec.Struct):
    contact: ContactOut
    reasons: list[str]
    """Why it looks like the same person: `phone:+1415...`, `email:a@b.example`, `name` (similar or equal name)."""
    score: float
    """Name similarity 0..1 (pg_trgm), 1.0 for an equal normalised name, 0 when only an identity matched."""


class DuplicatePairOut(msgspec.Struct):
    contact_id: int
    contact_name: str
    other_id: int
    other_name: str
    reasons: list[str]


class MergeOut(msgspec.Struct):
    contact: ContactOut
    merged_id: int
    moved: dict[str, int]
    """Rows moved to the survivor by each merge step (phones, emails, notes, files, timeline, ...)."""
    filled: list[str]
    """Fields of the survivor that were empty and now hold the other contact's value."""
    conflicts: dict[str, Any]
    """The other contact's values that lost to the survivor's; also kept in the merge timeline entry."""
