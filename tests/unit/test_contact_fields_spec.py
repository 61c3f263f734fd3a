"""The contact's built-in fields are declared once (app/contacts/fields_spec.py): the API structs, the CSV export's
columns, the import mapping's choices, the merge's rules and the card's sections all come from that declaration."""

from __future__ import annotations

import dataclasses
import datetime as dt

import msgspec
import pytest

from app.contacts import export, import_mapping, merge, schemas, views
from app.contacts import fields_spec as spec
from app.contacts.tables import Contact

# A field someone adds to the declaration: written by clients, exported, importable, filled by a merge, on the card.
NEW = spec.ContactField("nickname", "Nickname", "text", column="nickname", export="nickname",
                        importable=spec.ImportTarget("Nickname", ""), merge="fill", section="details")
EXTENDED = (*spec.FIELDS, NEW)


def test_the_modules_use_the_declaration() -> None:
    assert schemas.ContactIn.__struct_fields__ == tuple(f.name for f in spec.FIELDS if f.writable)
    assert schemas.ContactPatch.__struct_fields__ == (*(f.name for f in spec.FIELDS if f.writable), "version")
    assert schemas.ContactOut.__struct_fields__ == tuple(f.name for f in spec.FIELDS)
    assert export.HEADER == tuple(f.export for f in spec.FIELDS if f.export)
    assert [t.key for t in import_mapping.BUILTIN] == [f.name for f in spec.FIELDS if f.importable]
    assert merge.FIELDS == tuple(f.name for f in spec.FIELDS if f.merge == "fill")
    assert merge.UNIONS == tuple(f.name for f in spec.FIELDS if f.merge == "union")
    assert spec.CARD == {s: tuple(f for f in spec.FIELDS if f.section == s) for s in spec.SECTIONS}
    assert views.SECTIONS == tuple(spec.CARD)


def test_the_export_and_the_api_keep_their_shape() -> None:
    """What clients and spreadsheets already read does not move (a new column comes last)."""
    assert export.HEADER == ("id", "name", "company", "phones", "emails", "tags", "temperature", "owner",
                             "birth_date", "address", "last_contact_at", "created_at", "timezone")
    assert set(schemas.ContactOut.__struct_fields__) == {
        "id", "name", "company", "phones", "emails", "tags", "temperature", "owner_id", "owner_name", "birth_date",
        "address", "preferences", "custom", "created_at", "updated_at", "last_contact_at", "version", "language",
        "timezone", "temperature_manual"}
    assert set(merge.FIELDS) == {"name", "company", "birth_date", "address", "preferences", "temperature",
                                 "owner_id", "timezone"}


def test_a_field_added_to_the_declaration_shows_up_everywhere() -> None:
    contact_in, contact_patch, contact_out = schemas.contact_structs(EXTENDED)
    assert "nickname" in contact_in.__struct_fields__
    assert msgspec.json.decode(b'{"nickname": "Vanya"}', type=contact_in).nickname == "Vanya"
    assert msgspec.json.decode(b'{"nickname": "Vanya"}', type=contact_patch).changes() == {"nickname": "Vanya"}
    assert "nickname" in contact_out.__struct_fields__
    header, sql = export.columns(EXTENDED)
    assert header[-1] == "nickname" and 'c.nickname AS "nickname"' in sql
    assert import_mapping.builtin(EXTENDED)[-1] == import_mapping.Target("nickname", "Nickname", "")
    assert spec.merged("fill", EXTENDED)[-1] == "nickname"
    assert spec.card_sections(EXTENDED)["details"][-1] == NEW
    assert "nickname" in spec.writable(EXTENDED)
    # Read-only or not exported: not in the input structs, not in the export.
    hidden = dataclasses.replace(NEW, writable=False, export=None, importable=None)
    contact_in, _, contact_out = schemas.contact_structs((*spec.FIELDS, hidden))
    assert "nickname" not in contact_in.__struct_fields__ and "nickname" in contact_out.__struct_fields__
    assert "nickname" not in export.columns((*spec.FIELDS, hidden))[0]
    assert "nickname" not in [t.key for t in import_mapping.builtin((*spec.FIELDS, hidden))]


def test_every_contact_column_is_declared() -> None:
    internal = {"search_text", "merged_into", "deleted_at"}
    columns = {c._meta.name for c in Contact._meta.columns}
    declared = {f.column for f in spec.FIELDS if f.column and "." not in f.column}
    assert columns - internal == declared
    assert {f.kind for f in spec.FIELDS} <= set(spec._WIRE)
    assert {f.merge for f in spec.FIELDS} - {None} <= set(spec.MERGE_RULES)
    assert {f.section for f in spec.FIELDS} - {None} <= set(spec.SECTIONS)


def test_a_merge_fills_every_fill_field_the_declaration_names() -> None:
    empty = {f: None if f in ("birth_date", "temperature", "owner_id") else "" for f in merge.FIELDS}
    values = {"name": "Ivan", "company": "Acme", "birth_date": dt.date(1990, 1, 2), "address": "Tver",
              "preferences": "tea", "temperature": "warm", "owner_id": 3, "timezone": "Europe/Moscow"}
    assert set(values) == set(merge.FIELDS)
    survivor = {**empty, "tags": ["a"], "custom": {}}
    other = {**values, "tags": ["b"], "custom": {}}
    changes, filled, conflicts = merge._combine(survivor, other)
    assert filled == [*merge.FIELDS, "tags"] and conflicts == {}
    assert {c._meta.name for c in changes} == {"name", "company", "birth_date", "address", "preferences",
                                               "temperature", "owner", "tags", "timezone"}


@pytest.mark.parametrize("field", [f for f in spec.FIELDS if f.writable])
def test_every_writable_field_is_described_in_the_schema(field: spec.ContactField) -> None:
    schema = msgspec.json.schema(schemas.ContactIn)
    prop = schema["$defs"]["ContactIn"]["properties"][field.name]
    described = [prop, *prop.get("anyOf", [])]
    if field.kind == "user":  # an id documents its bounds instead
        assert any(d.get("minimum") == 1 for d in described)
    else:
        assert any(d.get("description") == field.label for d in described)


def test_the_new_contact_form_the_validation_and_the_import_read_the_declaration() -> None:
    """The new-contact page, create's "needs one of" rule, the list rules and the import's mapping check and list
    splitting are derived from the declaration, not written beside it."""
    from app.contacts import imports, services

    assert [f.name for f in spec.new_form()] == ["name", "company", "phones", "emails", "tags", "temperature"]
    assert spec.identifying() == ("name", "company", "phones", "emails")
    assert services.LIST_LIMITS == {"tags": 50} == spec.list_limits()
    assert {f.items for f in spec.FIELDS if f.kind == "list"} == set(spec.ITEMS)
    assert set(import_mapping._LIST_SPLIT) == {f.name for f in spec.importable() if f.kind == "list"}
    assert set(import_mapping.SYNONYMS) == {f.name for f in spec.importable()}
    assert imports.spec is spec
    with pytest.raises(Exception, match="Map at least one column to name, company, phone or email"):
        import_mapping.check(["tags"], ["Tags"], [])
    assert import_mapping.check(["company"], ["Firm"], []) == ["company"]
    nick = dataclasses.replace(NEW, on_new_form=True, identifies=True)
    assert spec.new_form((*spec.FIELDS, nick))[-1] == nick and spec.identifying((*spec.FIELDS, nick))[-1] == "nickname"
