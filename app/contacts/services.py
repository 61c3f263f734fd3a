"""Client card rules: create, read, edit, delete, search, notes, identities."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import msgspec
from piccolo.utils.encoding import load_json

from app.accounts.tables import Workspace
from app.audit import services as audit
from app.contacts import events, fields, queries
from app.contacts import fields_spec as spec
from app.contacts.tables import TEMPERATURES, Contact, ContactEmail, ContactPhone, Note
from app.lib import i18n, quotas
from app.lib.clock import now
from app.lib.db import current_uow
from app.lib.errors import Conflict, Invalid, NotFound
from app.lib.identities import normalize_email, normalize_phone, try_phone
from app.timeline import services as timeline
from realtime.publish import emit

EDITABLE = spec.writable()
TEXT_LIMITS = {"text": 200, "longtext": 2000}
LIST_LIMITS = spec.list_limits()
"""How many items a list field holds at most (a merge's union keeps the first ones)."""
MAX_TAGS = LIST_LIMITS["tags"]


async def default_region() -> str:
    row = await Workspace.select(Workspace.default_region).first()
    return row["default_region"] if row else "US"


async def language_of(contact_id: int | None) -> str:
    """What to speak to a contact: their language, else the workspace's ("" when neither is set: the browser's)."""
    row = await current_uow().connection.fetchrow(
        "SELECT COALESCE(NULLIF((SELECT language FROM contact WHERE id = $1), ''), "
        "(SELECT language FROM workspace LIMIT 1), '') AS language", contact_id)
    return str(row["language"]) if row else ""


async def zone_of(contact_id: int | None, *, or_workspace: bool = False) -> str:
    """The contact's time zone ("" when they have none: the portal and the chat use the browser's); with
    `or_workspace`, the workspace's when they have none (emails, which have no browser)."""
    row = await current_uow().connection.fetchrow(
        "SELECT COALESCE(NULLIF((SELECT timezone FROM contact WHERE id = $1), ''), "
        "CASE WHEN $2 THEN (SELECT timezone FROM workspace LIMIT 1) END, '') AS zone", contact_id, or_workspace)
    return str(row["zone"]) if row else ""


async def own_language_of(contact_id: int | None) -> str:
    """The contact's own language ("" when they have none, or for no contact: the caller keeps its choice, as the
    chat widget keeps the browser's)."""
    if contact_id is None:
        return ""
    value = await current_uow().connection.fetchval("SELECT language FROM contact WHERE id = $1", contact_id)
    return str(value or "")


async def number_to_reach(card: dict[str, Any], number: str | None, *, field: str = "number") -> str:
    """The number to call or text a contact on: the one typed (local formats in the shop's region), else the
    card's first phone; E.164."""
    if number:
        to = try_phone(number, await default_region())
        if to is None:
            raise Invalid("%(number)s is not a valid phone number.", field=field, number=repr(number))
        return to
    if card["phones"]:
        return str(card["phones"][0])
    raise Invalid("This contact has no phone number; enter one.", field=field)


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise Invalid("%(field_name)s must be text.", field=field, field_name=field)
    value = value.strip()
    if len(value) > limit:
        raise Invalid("%(field_name)s must be at most %(limit)s characters.", field=field, field_name=field,
                      limit=limit)
    return value


def _cleaning(values: dict[str, Any], region: str, defs: list[dict[str, Any]], current_custom: dict[str, Any] | None
              ) -> Generator[fields.Check, bool, dict[str, Any]]:
    """Validate and normalise the given fields; errors name the field (phones[1], custom.size...). The rules that
    need the database (an owner, a unique custom field) yield their question (fields.Check) and get the answer."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        f = spec.BY_NAME[key]
        if f.kind in TEXT_LIMITS:
            out[key] = _text(value, key, TEXT_LIMITS[f.kind])
        elif f.kind == "list":
            out[key] = _clean_list(f, value, region)
        elif f.kind == "choice":
            if value not in (None, "", *f.options):
                raise Invalid("%(field_name)s must be one of: %(choices)s (or empty).", field=key, field_name=key,
                              choices=", ".join(f.options))
            out[key] = value or None
        elif f.kind == "language":
            if value not in ("", None, *i18n.LANGUAGES):
                raise Invalid("%(field_name)s must be one of: %(choices)s (or empty: the workspace's).", field=key,
                              field_name=key, choices=", ".join(i18n.LANGUAGES))
            out[key] = value or ""
        elif f.kind == "timezone":
            zone = str(value or "").strip()
            if zone and not i18n.check_zone(zone):
                raise Invalid("Unknown time zone %(timezone)s; use a name like Europe/Berlin.", field=key,
                              timezone=repr(zone))
            out[key] = zone
        elif f.kind == "user":
            if value is not None and not (yield ("user", value)):
                raise Invalid("No active user %(value)s to own this contact.", field=key, value=value)
            out[key] = value
        elif f.kind == "date":
            if isinstance(value, str):
                try:
                    value = dt.date.fromisoformat(value) if value else None
                except ValueError:
                    raise Invalid("%(field_name)s must be a date written as YYYY-MM-DD.", field=key,
                                  field_name=key) from None
            if value is not None and not (dt.date(1900, 1, 1) <= value <= dt.date.today()):
                raise Invalid("%(field_name)s must be between 1900-01-01 and today.", field=key, field_name=key)
            out[key] = value
        elif f.kind == "custom":
            if not isinstance(value, dict):
                raise Invalid("%(field_name)s must be an object of field keys to values.", field=key, field_name=key)
            out[key] = yield from fields.cleaning(value, defs, current=current_custom)
    return out


async def _clean(values: dict[str, Any], *, contact_id: int | None = None,
                 current_custom: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate and normalise the given fields; errors name the field (phones[1], custom.size...)."""
    region = await default_region()
    defs = await fields.definitions() if "custom" in values else []
    return await fields.run_checked(_cleaning(values, region, defs, current_custom), contact_id=contact_id)


def _clean_list(f: spec.ContactField, value: Any, region: str) -> list[str]:
    """A list field's items normalised by their kind (fields_spec.ITEMS), duplicates dropped, order kept."""
    items: list[str] = []
    for i, raw in enumerate(value or []):
        if f.items == "phone":
            item = normalize_phone(str(raw), region, field=f"{f.name}[{i}]")
        elif f.items == "email":
            item = normalize_email(str(raw), field=f"{f.name}[{i}]")
        else:  # a tag: trimmed and lowercased, blanks dropped
            item = _text(raw, f.name, 50).lower()
        if item and item not in items:
            items.append(item)
    if f.max_items is not None and len(items) > f.max_items:
        raise Invalid("At most %(max_items)s %(field_name)s per contact.", field=f.name, max_items=f.max_items,
                      field_name=f.name)
    return items


def _search_text(name: str, company: str, emails: list[str], phones: list[str]) -> str:
    return " ".join([name.lower(), company.lower(), *emails, *(p.lstrip("+") for p in phones)]).strip()


async def _write_identities(contact_id: int, phones: list[str] | None, emails: list[str] | None) -> None:
    if phones is not None:
        await ContactPhone.delete().where(ContactPhone.contact == contact_id)
        if phones:
            await ContactPhone.insert(*[ContactPhone(contact=contact_id, e164=p, position=i)
                                        for i, p in enumerate(phones)])
    if emails is not None:
        await ContactEmail.delete().where(ContactEmail.contact == contact_id)
        if emails:
            await ContactEmail.insert(*[ContactEmail(contact=contact_id, email=e, position=i)
                                        for i, e in enumerate(emails)])


async def _refresh_search_text(contact_id: int) -> None:
    await Contact.raw(f"UPDATE contact c SET search_text = {SEARCH_TEXT_SQL} WHERE c.id = {{}}", contact_id)  # noqa: S608


async def validate(values: dict[str, Any], *, contact_id: int | None = None) -> dict[str, Any]:
    """The cleaned values by the rules of create (or of update of `contact_id`), writing nothing; Invalid or
    Conflict names the field. Imports use it to preview rows and to check a whole row before merging it."""
    editable = {k: v for k, v in values.items() if k in EDITABLE}
    if contact_id is not None:
        current = await get(contact_id)
        return await _clean(editable, contact_id=contact_id, current_custom=current["custom"])
    clean = await _clean(editable, current_custom={})
    if "custom" not in clean:
        clean["custom"] = await fields.validate({}, current={})
    if not any(clean.get(key) for key in spec.identifying()):
        raise Invalid("A contact needs at least a name, a company, a phone or an email.", field="name")
    return clean


@dataclasses.dataclass(frozen=True)
class Rules:
    """What `validate_plain` needs from the database, read once for many rows (the contact import's batch)."""

    region: str
    defs: list[dict[str, Any]]
    """The custom field definitions (fields.definitions())."""


async def rules() -> Rules:
    return Rules(await default_region(), await fields.definitions())


def validate_plain(values: dict[str, Any], rules: Rules, *, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """`validate` without a query: the rules of create, or of update of the card `current`. Raises
    fields.NeedsDatabase for a rule that must ask the database (an owner, a unique custom field)."""
    editable = {k: v for k, v in values.items() if k in EDITABLE}
    if current is not None:
        return fields.run_plain(_cleaning(editable, rules.region, rules.defs, current["custom"]))
    clean = fields.run_plain(_cleaning(editable, rules.region, rules.defs, {}))
    if "custom" not in clean:
        clean["custom"] = fields.run_plain(fields.cleaning({}, rules.defs, current={}))
    if not any(clean.get(key) for key in spec.identifying()):
        raise Invalid("A contact needs at least a name, a company, a phone or an email.", field="name")
    return clean


def search_text(name: str, company: str, emails: list[str], phones: list[str]) -> str:
    """What partial search matches (`contact.search_text`), as create writes it."""
    return _search_text(name, company, emails, phones)


SEARCH_TEXT_SQL = ("trim(concat_ws(' ', lower(c.name), lower(c.company), "
                   "(SELECT string_agg(e.email, ' ') FROM contact_email e WHERE e.contact = c.id), "
                   "(SELECT string_agg(ltrim(p.e164, '+'), ' ') FROM contact_phone p WHERE p.contact = c.id)))")
"""`contact.search_text` recomputed from the row `c` and its identities (after identities changed)."""


async def create(actor: Any, values: dict[str, Any], *, source: str = "manual") -> dict[str, Any]:
    """A new contact. One a person makes (`manual`) counts against the plan's contact quota; one made for an
    incoming call or message is never refused (a customer is not turned away) but is counted."""
    clean = await validate(values)
    if source == "manual":
        await quotas.check("contacts")
    phones, emails = clean.pop("phones", []), clean.pop("emails", [])
    owner = clean.pop("owner_id", None)
    row = Contact(**clean, owner=owner,
                  search_text=_search_text(clean.get("name", ""), clean.get("company", ""), emails, phones))
    rows = await Contact.insert(row).returning(Contact.id)
    contact_id = int(rows[0]["id"])
    await _write_identities(contact_id, phones, emails)
    actor_id = getattr(actor, "user_id", None)
    if clean.get("temperature") and source == "manual":
        await current_uow().connection.execute("UPDATE contact SET temperature_manual = true WHERE id = $1",
                                               contact_id)
    await timeline.record(contact_id, "system", "internal",
                          "Contact created (%(source)s)" if source != "manual" else "Contact created",
                          params={"source": source} if source != "manual" else {},
                          actor_type="user" if actor_id else "system", actor_id=actor_id,
                          actor_label=getattr(actor, "label", ""), payload={"event": "created", "source": source})
    if actor_id:
        await audit.record("contact.created", actor_id=actor_id, actor=actor.label, target_type="contact",
                           target_id=contact_id)
    await emit(events.CONTACT_CREATED, contact_id=contact_id)
    return await get(contact_id)



async def quota_used() -> int:
    """Contacts the plan's quota counts: every live card (not merged away, not deleted)."""
    return int(await current_uow().connection.fetchval(
        "SELECT count(*) FROM contact WHERE merged_into IS NULL AND deleted_at IS NULL"))


async def cards(ids: list[int]) -> list[dict[str, Any]]:
    """Several cards in the order of `ids` (missing ids are skipped)."""
    return await _cards(ids)


async def _cards(ids: list[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    rows = await Contact.select(*_CARD_COLUMNS).where(Contact.id.is_in(ids)).output(load_json=True)
    phones = await ContactPhone.select(ContactPhone.contact, ContactPhone.e164).where(
        ContactPhone.contact.is_in(ids)).order_by(ContactPhone.position)
    emails = await ContactEmail.select(ContactEmail.contact, ContactEmail.email).where(
        ContactEmail.contact.is_in(ids)).order_by(ContactEmail.position)
    by_id = {r["id"]: {**r, "phones": [], "emails": []} for r in rows}
    for p in phones:
        by_id[p["contact"]]["phones"].append(p["e164"])
    for e in emails:
        by_id[e["contact"]]["emails"].append(e["email"])
    return [by_id[i] for i in ids if i in by_id]


def _column(path: str) -> Any:
    """`owner.name` -> Contact.owner.name (a column across a foreign key)."""
    col: Any = Contact
    for part in path.split("."):
        col = getattr(col, part)
    return col


def column(field: str) -> Any:
    """The contact table column that stores a field (`owner_id` -> Contact.owner)."""
    return _column(spec.BY_NAME[field].column or field)


# What a card reads from the contact row, each under its field's name (phones and emails come from their tables).
_CARD_COLUMNS = [_column(f.column).as_alias(f.name) if f.column != f.name else _column(f.column)
                 for f in spec.FIELDS if f.column]


def _card_sql() -> str:
    """One contact's card in one statement (the card's columns as `_CARD_COLUMNS` names them, its phones and emails
    in order, and whether it is gone): `GET /contacts/{id}` runs it on every call (see bench_http)."""
    cols = []
    for f in spec.FIELDS:
        if not f.column:
            continue
        table, _, name = f.column.rpartition(".")
        if table not in ("", "owner"):
            raise ValueError(f"the card reads no column across {table!r}")
        cols.append(f'{"o" if table else "c"}."{name}" AS "{f.name}"')
    return (f"SELECT {', '.join(cols)}, c.merged_into AS _merged_into, c.deleted_at AS _deleted_at, "  # noqa: S608
            "ARRAY(SELECT p.e164 FROM contact_phone p WHERE p.contact = c.id ORDER BY p.position) AS phones, "
            "ARRAY(SELECT e.email FROM contact_email e WHERE e.contact = c.id ORDER BY e.position) AS emails "
            "FROM contact c LEFT JOIN app_user o ON o.id = c.owner WHERE c.id = $1")


_CARD_SQL = _card_sql()


async def get(contact_id: int) -> dict[str, Any]:
    row = await current_uow().connection.fetchrow(_CARD_SQL, contact_id)
    if row is None or row["_deleted_at"] is not None:
        raise NotFound("No contact %(contact_id)s.", extra={"merged_into": row["_merged_into"]} if row else None,
                       contact_id=contact_id)
    card = dict(row)
    del card["_merged_into"], card["_deleted_at"]
    card["custom"] = load_json(card["custom"]) if card["custom"] is not None else None  # JSONB, as Piccolo reads it
    return card


async def update(actor: Any, contact_id: int, values: dict[str, Any], *, version: int | None = None) -> dict[str, Any]:
    current = await get(contact_id)
    if version is not None and version != current["version"]:
        raise Conflict("This contact was changed by someone else (version %(version)s, you had %(yours)s); reload "
                       "it and apply your change again.", extra={"version": current["version"]},
                       version=current['version'], yours=version)
    clean = await _clean({k: v for k, v in values.items() if k in EDITABLE}, contact_id=contact_id,
                         current_custom=current["custom"])
    phones, emails = clean.pop("phones", None), clean.pop("emails", None)
    changes: dict[Any, Any] = {column(k): v for k, v in clean.items()}
    changed = sorted(k for k in [*clean, *(["phones"] if phones is not None else []),
                                 *(["emails"] if emails is not None else [])]
                     if (current.get(k) != (phones if k == "phones" else emails if k == "emails" else clean.get(k))))
    if not changed:
        return current
    changes[Contact.updated_at] = now()
    changes[Contact.version] = Contact.version + 1
    updated = await Contact.update(changes).where((Contact.id == contact_id) & (Contact.version == current["version"])
                                                  ).returning(Contact.id)
    if not updated:
        raise Conflict("This contact was changed by someone else just now; reload it and apply your change again.")
    await _write_identities(contact_id, phones, emails)
    await _refresh_search_text(contact_id)
    actor_id = getattr(actor, "user_id", None)
    if "temperature" in changed:
        await temperature_set(contact_id, current["temperature"], clean.get("temperature"), actor=actor)
    await audit.record("contact.updated", actor_id=actor_id, actor=getattr(actor, "label", "system"),
                       target_type="contact", target_id=contact_id, detail={"fields": changed})
    await emit(events.CONTACT_UPDATED, contact_id=contact_id)
    return await get(contact_id)


async def delete(actor: Any, contact_id: int) -> None:
    """Hide the contact; its timeline, notes and files are kept (nothing is ever lost)."""
    await get(contact_id)
    await Contact.update({Contact.deleted_at: now()}).where(Contact.id == contact_id)
    await audit.record("contact.deleted", actor_id=actor.user_id, actor=actor.label, target_type="contact",
                       target_id=contact_id)
    await emit(events.CONTACT_DELETED, contact_id=contact_id)


async def temperature_set(contact_id: int, previous: str | None, temperature: str | None, *, actor: Any = None,
                          rule: bool = False, at: dt.datetime | None = None) -> None:
    """Record a temperature change on the timeline, saying who moved it: a person (the value is then hand-set and
    the shop's behaviour rules leave it alone; clearing it hands it back to the rules) or the rules."""
    manual = not rule and temperature is not None
    await current_uow().connection.execute("UPDATE contact SET temperature_manual = $2 WHERE id = $1", contact_id,
                                           manual)
    actor_id = getattr(actor, "user_id", None)
    words = {"previous": previous or "none", "temperature": temperature or "none"}
    if rule:
        summary = "Temperature %(previous)s → %(temperature)s (the shop's rules)"
    elif temperature is None:
        summary = "Temperature %(previous)s → %(temperature)s, back to the shop's rules"
    else:
        summary = "Temperature %(previous)s → %(temperature)s, set by hand"
    await timeline.record(contact_id, "system", "internal", summary, params=words,
                          translated=("previous", "temperature"),
                          actor_type="user" if actor_id else "system", actor_id=actor_id,
                          actor_label=getattr(actor, "label", "") if actor_id else "rules", occurred_at=at,
                          payload={"event": "temperature", "by": "rule" if rule else "person",
                                   "previous": previous, "temperature": temperature})


async def segment_choices() -> list[dict[str, Any]]:
    """The saved segments for the list's filter and "add the ticked contacts to a list" (the segment table is read by
    name: contacts sits below app.segments)."""
    rows = await current_uow().connection.fetch("SELECT id, name, kind FROM segment ORDER BY lower(name), id")
    return [dict(r) for r in rows]


SegmentResolver = Callable[[int], Awaitable[tuple[str, list[Any]]]]
_segment_resolver: list[SegmentResolver] = []


def register_segment_resolver(fn: SegmentResolver) -> None:
    """app.segments hands over `contact_ids_sql(segment_id)` at start-up (app/domains.py): the list's `segment`
    filter (contacts sits below segments and does not import them)."""
    _segment_resolver[:] = [fn]


async def prepare_filter(f: queries.ContactFilter) -> queries.ContactFilter:
    """Check a filter and read a phone number out of `q`; the list and the CSV export share it."""
    if f.segment is not None and f.within is None:
        if not _segment_resolver:
            raise Invalid("Segments are not available here.", field="segment")
        f.within = await _segment_resolver[0](f.segment)
    if f.temperature and f.temperature not in TEMPERATURES:
        raise Invalid("temperature must be one of: %(choices)s.", field="temperature", choices=', '.join(TEMPERATURES))
    if f.sort not in queries.SORTS:
        raise Invalid("sort must be one of: %(choices)s.", field="sort", choices=', '.join(queries.SORTS))
    if f.q and f.phone_e164 is None:
        f.phone_e164 = try_phone(f.q, await default_region())
    return f


async def search(f: queries.ContactFilter, *, limit: int = 50,
                 offset: int = 0) -> tuple[list[dict[str, Any]], int | None]:
    await prepare_filter(f)
    limit = min(max(limit, 1), 200)
    sql, args = queries.build(f, limit=limit + 1, offset=max(offset, 0))
    rows = await current_uow().connection.fetch(sql, *args)
    ids = [r["id"] for r in rows]
    more = len(ids) > limit
    return await _cards(ids[:limit]), (offset + limit if more else None)


# -- notes -----------------------------------------------------------------------------------------------------

MAX_NOTE = 20_000


async def add_note(actor: Any, contact_id: int, body: str) -> dict[str, Any]:
    await get(contact_id)
    body = (body or "").strip()
    if not body:
        raise Invalid("The note is empty.", field="body")
    if len(body) > MAX_NOTE:
        raise Invalid("A note can be at most %(max_note)s characters.", field="body", max_note=MAX_NOTE)
    rows = await Note.insert(Note(contact=contact_id, body=body, author=actor.user_id)).returning(Note.id,
                                                                                                 Note.created_at)
    note_id = rows[0]["id"]
    first_line = body.splitlines()[0][:140]
    await timeline.record(contact_id, "note", "internal", first_line, payload={"body": body},
                          links={"note_id": note_id}, actor_type="user", actor_id=actor.user_id,
                          actor_label=actor.name or actor.email,
                          occurred_at=rows[0]["created_at"])
    await audit.record("note.added", actor_id=actor.user_id, actor=actor.label, target_type="contact",
                       target_id=contact_id, detail={"note_id": note_id})
    await emit(events.NOTE_ADDED, contact_id=contact_id, note_id=note_id)
    return {"id": note_id, "contact_id": contact_id, "body": body, "created_at": rows[0]["created_at"]}


def to_struct(struct: type[msgspec.Struct], row: dict[str, Any]) -> Any:
    names = set(struct.__struct_fields__)
    return struct(**{k: v for k, v in row.items() if k in names})
