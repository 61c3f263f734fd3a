"""Contact events: emitted in the unit of work that made the change (`emit(CONTACT_UPDATED, contact_id=...)`),
sent to the card's watchers (and the consoles, for list-level changes) after commit."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class ContactPayload(msgspec.Struct):
    contact_id: int


class MergedPayload(msgspec.Struct):
    contact_id: int
    merged_id: int
    """The contact that is gone."""
    merged_into: int | None = None
    """On the event for the contact that is gone: the one that survives."""


class NotePayload(msgspec.Struct):
    contact_id: int
    note_id: int


class InteractionPayload(msgspec.Struct):
    contact_id: int
    interaction_id: int | None = None
    call_id: int | None = None
    channel: str | None = None


class ImportProgressPayload(msgspec.Struct):
    import_id: int
    processed: int
    created: int
    updated: int
    failed: int
    status: str


def card(data: dict[str, Any]) -> list[str]:
    return [channels.contact(data["contact_id"])]


def card_and_lists(data: dict[str, Any]) -> list[str]:
    return [channels.contact(data["contact_id"]), channels.queue()]


CONTACT_CREATED = EventType("contact.created", "A contact was created (contact_id).", ContactPayload, card_and_lists)
CONTACT_UPDATED = EventType("contact.updated", "A contact's card changed: fields, identities, tags, temperature "
                            "(contact_id).", ContactPayload, card)
CONTACT_MERGED = EventType("contact.merged", "Contacts were merged into one (contact_id survives, merged_id is gone).",
                           MergedPayload, card_and_lists)
CONTACT_DELETED = EventType("contact.deleted", "A contact was deleted (contact_id).", ContactPayload, card_and_lists)
NOTE_ADDED = EventType("note.added", "A note landed on a contact's timeline (contact_id, note_id).", NotePayload, card)
INTERACTION_CREATED = EventType("interaction.created", "An interaction was opened on a timeline (interaction_id, "
                                "contact_id).", InteractionPayload, card)
INTERACTION_UPDATED = EventType("interaction.updated", "An interaction changed status, owner or outcome "
                                "(interaction_id, contact_id).", InteractionPayload, card)
CONTACT_IMPORT_PROGRESS = EventType(
    "contact_import.progress", "A batch of a contact import landed: the import's counters so far (import_id, "
    "processed, created, updated, failed, status). One event per batch stands for the contacts it created and "
    "changed (they get no contact.created / contact.updated each).", ImportProgressPayload,
    lambda data: [channels.role("admin")])
declare(CONTACT_CREATED, CONTACT_UPDATED, CONTACT_MERGED, CONTACT_DELETED, NOTE_ADDED, INTERACTION_CREATED,
        INTERACTION_UPDATED, CONTACT_IMPORT_PROGRESS)
