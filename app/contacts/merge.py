"""Merging two contacts into one, and the registry through which every domain moves its contact links."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.audit import services as audit
from app.contacts import events, files, identities, services
from app.contacts import fields_spec as spec
from app.contacts.tables import Contact, ContactEmail, ContactPhone, Note
from app.lib import i18n
from app.lib.clock import now
from app.lib.db import current_uow
from app.lib.domain import MergeStep
from app.lib.errors import Conflict, Forbidden, Invalid, NotFound
from app.timeline import services as timeline
from realtime.publish import emit

# Built-in fields, by their merge rule in app.contacts.fields_spec: "fill" -> empty on the survivor takes the other's;
# both set and different -> survivor wins, other's kept in the merge entry. "union" -> lists joined.
FIELDS = spec.merged("fill")
UNIONS = spec.merged("union")
KEPT = tuple(f.name for f in spec.FIELDS if f.merge is not None)
"""What the merge entry keeps of the other contact."""


_steps: dict[str, MergeStep] = {}


def register(step: MergeStep) -> MergeStep:
    """Add a "move contact links from A to B" step that every merge runs (orders, conversations, tasks...).

    A domain declares its steps in its manifest (app.lib.domain.MergeStep) and start-up registers them here; the
    step's `tables` name the tables whose contact column it moves, so a check can tell which links no step covers.
    Registering a name again replaces the step."""
    _steps[step.name] = step
    return step


def unregister(name: str) -> None:
    """Forget a step (a test's own step, once the test is done)."""
    _steps.pop(name, None)


def registered() -> dict[str, tuple[str, ...]]:
    return {s.name: s.tables for s in _steps.values()}


async def uncovered_links() -> list[str]:
    """Tables in the current tenant schema with a foreign key to `contact` that no registered step moves."""
    rows = await current_uow().connection.fetch(
        "SELECT DISTINCT cl.relname AS name FROM pg_constraint k JOIN pg_class cl ON cl.oid = k.conrelid "
        "WHERE k.contype = 'f' AND k.confrelid = 'contact'::regclass ORDER BY 1")
    covered = {t for s in _steps.values() for t in s.tables}
    return [r["name"] for r in rows if r["name"] not in covered and r["name"] != "contact"]


async def _move_identities(table: str, column: str, source: int, target: int) -> int:
    """Move phones or emails, dropping the ones the survivor has already (labels and order are kept)."""
    conn = current_uow().connection
    await conn.execute(f"DELETE FROM {table} WHERE contact = $1 AND {column} IN "  # noqa: S608 (fixed identifiers)
                       f"(SELECT {column} FROM {table} WHERE contact = $2)", source, target)
    moved = await conn.fetch(
        f"UPDATE {table} SET contact = $2, position = position + "  # noqa: S608
        f"(SELECT coalesce(max(position) + 1, 0) FROM {table} WHERE contact = $2) WHERE contact = $1 RETURNING id",
        source, target)
    return len(moved)


async def _move_phones(source: int, target: int) -> int:
    return await _move_identities(ContactPhone._meta.tablename, "e164", source, target)


async def _move_emails(source: int, target: int) -> int:
    return await _move_identities(ContactEmail._meta.tablename, "email", source, target)


async def _move_notes(source: int, target: int) -> int:
    return len(await Note.update({Note.contact: target}).where(Note.contact == source).returning(Note.id))


async def _repoint_merged(source: int, target: int) -> int:
    """Contacts merged into the other earlier now point at the survivor: their 404 names the live card."""
    return len(await Contact.update({Contact.merged_into: target}).where(Contact.merged_into == source).returning(
        Contact.id))


STEPS = (
    MergeStep("phones", _move_phones, tables=("contact_phone",)),
    MergeStep("emails", _move_emails, tables=("contact_email",)),
    MergeStep("notes", _move_notes, tables=("note",)),
    MergeStep("files", files.move_to, tables=("stored_file",)),
    MergeStep("merged_into", _repoint_merged),
)
"""The card's own steps; other domains name theirs in their manifests (app/domains.py registers them all)."""


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


async def _lock(survivor_id: int, other_id: int) -> dict[int, Any]:
    """Lock both rows in id order (two merges of the same pair in opposite directions cannot deadlock)."""
    rows = await current_uow().connection.fetch(
        "SELECT id, name, merged_into, deleted_at FROM contact WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE",
        sorted({survivor_id, other_id}))
    return {r["id"]: r for r in rows}


async def _lock_addresses(survivor_id: int, other_id: int) -> None:
    """Hold both contacts' phones and emails (identities.lock) before their rows: a call or mail from one of them
    meanwhile waits for the merge and then finds the survivor, or went first and its link is moved with the rest."""
    ids = [survivor_id, other_id]
    phones = await ContactPhone.select(ContactPhone.e164).where(ContactPhone.contact.is_in(ids))
    emails = await ContactEmail.select(ContactEmail.email).where(ContactEmail.contact.is_in(ids))
    await identities.lock([r["e164"] for r in phones], [r["email"] for r in emails])


def _check(locked: dict[int, Any], survivor_id: int, other_id: int) -> None:
    for cid, role in ((survivor_id, i18n.gettext("This contact")),
                      (other_id, i18n.gettext("Contact %(id)s", id=other_id))):
        row = locked.get(cid)
        if row is None:
            raise NotFound("No contact %(cid)s.", field="other_id" if cid == other_id else None, cid=cid)
        if row["merged_into"] is not None:
            raise Conflict("%(role)s was already merged into contact %(merged_into)s; merge with that one instead.",
                           field="other_id" if cid == other_id else None, extra={"merged_into": row["merged_into"]},
                           role=role, merged_into=row['merged_into'])
        if row["deleted_at"] is not None:
            raise Conflict("%(role)s was deleted; it cannot take part in a merge.",
                           field="other_id" if cid == other_id else None, role=role)


def _combine(survivor: dict[str, Any], other: dict[str, Any]) -> tuple[dict[Any, Any], list[str], dict[str, Any]]:
    """The survivor's column changes, the fields filled from the other, and the other's losing values."""
    changes: dict[Any, Any] = {}
    filled: list[str] = []
    conflicts: dict[str, Any] = {}
    for field in FIELDS:
        mine, theirs = survivor[field], other[field]
        if _empty(theirs) or mine == theirs:
            continue
        if _empty(mine):
            changes[services.column(field)] = theirs
            filled.append(field)
        else:
            conflicts[field] = _plain(theirs)
    for field in UNIONS:
        items = list(dict.fromkeys([*survivor[field], *other[field]]))
        limit = services.LIST_LIMITS.get(field)
        if limit is not None and len(items) > limit:
            conflicts[field] = items[limit:]
            items = items[:limit]
        if items != survivor[field]:
            changes[services.column(field)] = items
            filled.append(field)
    custom = dict(survivor["custom"])
    for key, theirs in other["custom"].items():
        if _empty(theirs) or custom.get(key) == theirs:
            continue
        if _empty(custom.get(key)):
            custom[key] = theirs
            filled.append(f"custom.{key}")
        else:
            conflicts[f"custom.{key}"] = theirs
    if custom != survivor["custom"]:
        changes[Contact.custom] = custom
    return changes, filled, conflicts


async def merge(actor: Any, survivor_id: int, other_id: int) -> dict[str, Any]:
    """Fold `other_id` into `survivor_id` inside the caller's transaction; nothing of either side is lost."""
    if not actor.has_role("admin"):
        raise Forbidden("Only admins can merge contacts.")
    if survivor_id == other_id:
        raise Invalid("A contact cannot be merged into itself; choose another contact.", field="other_id")
    await _lock_addresses(survivor_id, other_id)
    locked = await _lock(survivor_id, other_id)
    _check(locked, survivor_id, other_id)
    survivor, other = await services._cards([survivor_id, other_id])
    changes, filled, conflicts = _combine(survivor, other)
    at = now()
    # The other leaves first: unique custom fields and "live contact" lookups never see both at once.
    await Contact.update({Contact.merged_into: survivor_id, Contact.deleted_at: at, Contact.updated_at: at,
                          Contact.version: Contact.version + 1}).where(Contact.id == other_id)
    moved = {step.name: await step.fn(other_id, survivor_id) for step in list(_steps.values())}
    changes.update({Contact.updated_at: at, Contact.version: Contact.version + 1})
    await Contact.update(changes).where(Contact.id == survivor_id)
    await services._refresh_search_text(survivor_id)
    label = f"#{other_id} {other['name']}".strip()
    actor_label = getattr(actor, "name", "") or getattr(actor, "email", "")
    await timeline.record(
        survivor_id, "system", "internal", "Merged %(name)s into this contact", params={"name": label},
        payload={"event": "merged", "merged_id": other_id, "merged_name": other["name"], "filled": filled,
                 "conflicts": conflicts, "moved": moved,
                 "other": {k: _plain(v) for k, v in other.items() if k in KEPT}},
        links={"merged_contact_id": other_id}, actor_type="user", actor_id=actor.user_id, actor_label=actor_label)
    await audit.record("contact.merged", actor_id=actor.user_id, actor=actor.label, target_type="contact",
                       target_id=survivor_id, detail={"merged_id": other_id, "moved": moved, "filled": filled,
                                                      "conflicts": sorted(conflicts)})
    await emit(events.CONTACT_MERGED, contact_id=survivor_id, merged_id=other_id)
    await emit(events.CONTACT_MERGED, contact_id=other_id, merged_id=other_id, merged_into=survivor_id)
    return {"contact": await services.get(survivor_id), "merged_id": other_id, "moved": moved, "filled": filled,
            "conflicts": conflicts}
