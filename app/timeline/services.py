"""The one way to write and read the timeline. Every channel records its interactions through `record`."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from piccolo.columns.combination import WhereRaw

from app.contacts import events
from app.contacts.tables import Contact
from app.lib import i18n, money
from app.lib.clock import now
from app.lib.db import current_uow
from app.lib.errors import Invalid, NotFound
from app.timeline.tables import CHANNELS, CONVERSATION_CHANNELS, DIRECTIONS, Interaction
from realtime.publish import emit, emit_many

COLUMNS = (Interaction.id, Interaction.contact.as_alias("contact_id"), Interaction.channel, Interaction.direction,
           Interaction.occurred_at, Interaction.actor_type, Interaction.actor_id, Interaction.actor_label,
           Interaction.summary, Interaction.payload, Interaction.links)
# Channels that count as talking to the customer (for "last contact" on the card).
CONTACT_CHANNELS = frozenset(CONVERSATION_CHANNELS)


def _english(value: Any) -> Any:
    """A param as the stored English summary writes it (money as `money.fmt`, exact, with its code)."""
    amount = value.get("money") if isinstance(value, dict) else None
    return money.fmt(amount[0], amount[1]) if isinstance(amount, list) and len(amount) == 2 else value


async def record(contact_id: int, channel: str, direction: str, summary: str, *, payload: dict[str, Any] | None = None,
                 links: dict[str, Any] | None = None, actor_type: str = "system", actor_id: int | None = None,
                 actor_label: str = "", occurred_at: dt.datetime | None = None,
                 params: dict[str, Any] | None = None, translated: tuple[str, ...] = ()) -> int:
    """Append one interaction to a contact's timeline (inside the caller's unit of work) and announce it.

    A summary the product writes is an English catalogue template with `%(name)s` placeholders and `params` (pass
    `params={}` for one without placeholders): the filled English text is stored as `summary` (the API's), the
    template and params go into the payload (i18n.STORED_TEXT) and the timeline shows it in each reader's language.
    A summary without `params` is someone's own words (a message, a subject) and shows as written."""
    row = entry(contact_id, channel, direction, summary, payload=payload, links=links, actor_type=actor_type,
                actor_id=actor_id, actor_label=actor_label, occurred_at=occurred_at, params=params,
                translated=translated)
    rows = await Interaction.insert(Interaction(**row)).returning(Interaction.id)
    if channel in CONTACT_CHANNELS:
        await Contact.raw("UPDATE contact SET last_contact_at = GREATEST(coalesce(last_contact_at, {}), {}) "
                          "WHERE id = {}", row["occurred_at"], row["occurred_at"], contact_id)
    await emit(events.INTERACTION_CREATED, contact_id=contact_id, interaction_id=rows[0]["id"], channel=channel)
    return int(rows[0]["id"])


def entry(contact_id: int, channel: str, direction: str, summary: str, *, payload: dict[str, Any] | None = None,
          links: dict[str, Any] | None = None, actor_type: str = "system", actor_id: int | None = None,
          actor_label: str = "", occurred_at: dt.datetime | None = None, params: dict[str, Any] | None = None,
          translated: tuple[str, ...] = ()) -> dict[str, Any]:
    """The interaction row `record` writes (its columns), checked, without writing it: for a caller that writes many
    at once (inbound email's batches) and then bumps `last_contact_at` and announces each as `record` does."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown timeline channel {channel!r}")
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}")
    when = occurred_at or now()
    if params is not None:
        payload = {**(payload or {}), i18n.STORED_TEXT: i18n.stored_text(summary, params, translated)}
        summary = i18n.fill(summary, {k: _english(v) for k, v in params.items()})
    return {"contact": contact_id, "channel": channel, "direction": direction, "occurred_at": when,
            "actor_type": actor_type, "actor_id": actor_id, "actor_label": actor_label[:254], "summary": summary[:500],
            "payload": payload or {}, "links": links or {}}


_RECORD_MANY = """
INSERT INTO interaction (contact, channel, direction, occurred_at, actor_type, actor_label, summary, payload, links)
SELECT u.contact, $1, $2, $3, $4, $5, u.summary, u.payload::jsonb, u.links::jsonb
FROM unnest($6::int[], $7::text[], $8::text[], $9::text[]) WITH ORDINALITY AS u(contact, summary, payload, links, ord)
ORDER BY u.ord RETURNING id
"""


async def record_many(channel: str, direction: str, entries: Sequence[tuple[int, str, dict[str, Any], dict[str, Any]]],
                      *, actor_type: str = "customer", actor_label: str = "") -> list[int]:
    """`record` for many people's own words at once (a group commit of chat messages): `entries` are (contact id,
    summary, payload, links); one INSERT, one UPDATE of the contacts' last contact, one insert of their events.
    Returns the interaction ids in the order of `entries`."""
    if not entries:
        return []
    if channel not in CHANNELS:
        raise ValueError(f"unknown timeline channel {channel!r}")
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}")
    when = now()
    conn = current_uow().connection
    rows = await conn.fetch(_RECORD_MANY, channel, direction, when, actor_type, actor_label[:254],
                            [e[0] for e in entries], [e[1][:500] for e in entries],
                            [json.dumps(e[2]) for e in entries], [json.dumps(e[3]) for e in entries])
    ids = sorted(int(r["id"]) for r in rows)  # serial ids follow the insert's order
    if channel in CONTACT_CHANNELS:
        await conn.execute("UPDATE contact SET last_contact_at = GREATEST(coalesce(last_contact_at, $1), $1) "
                           "WHERE id = ANY($2::int[])", when, sorted({e[0] for e in entries}))
    await emit_many([(events.INTERACTION_CREATED, None, {"contact_id": e[0], "interaction_id": i, "channel": channel})
                     for e, i in zip(entries, ids, strict=True)])
    return ids


async def update_payload(interaction_id: int, **changes: str) -> None:
    """Change some keys of an interaction's payload (a message's delivery status, its error), nothing else."""
    await Interaction.raw("UPDATE interaction SET payload = payload || {}::jsonb WHERE id = {}",
                          json.dumps(changes), interaction_id)


def cursor_of(row: dict[str, Any]) -> str:
    """An opaque keyset cursor for a timeline row (its time and id): the API's and the workspace thread's `before`."""
    raw = f"{row['occurred_at'].isoformat()}|{row['id']}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def parse_cursor(cursor: str, refused: str = "The `before` cursor is not one this API gave out; start again without "
                                          "it.") -> tuple[dt.datetime, int]:
    """The (time, id) a `cursor_of` cursor holds; `refused` is the 400's message (a catalogue template)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, ident = raw.partition("|")
        return dt.datetime.fromisoformat(when), int(ident)
    except (ValueError, UnicodeDecodeError):
        raise Invalid(refused, field="before") from None


async def page(contact_id: int, *, channel: str | None = None, before: str | None = None,
               limit: int = 50) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, `limit` at a time; `next` is the cursor for the following page (None at the end)."""
    if not await Contact.exists().where((Contact.id == contact_id) & Contact.deleted_at.is_null()):
        raise NotFound("No contact %(contact_id)s.", contact_id=contact_id)
    if channel and channel not in CHANNELS:
        raise Invalid("Unknown channel %(channel)s; choose one of: %(choices)s.", field="channel",
                      channel=repr(channel), choices=', '.join(CHANNELS))
    limit = min(max(limit, 1), 200)
    query = Interaction.select(*COLUMNS).where(Interaction.contact == contact_id).order_by(
        Interaction.occurred_at, ascending=False).order_by(Interaction.id, ascending=False).limit(limit + 1).output(
        load_json=True)
    if channel:
        query = query.where(Interaction.channel == channel)
    if before:
        when, ident = parse_cursor(before)
        # A row comparison is an index condition on (contact, occurred_at, id); the OR form was a filter.
        query = query.where(WhereRaw("(occurred_at, id) < ({}, {})", when, ident))
    rows = await query
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (cursor_of(rows[-1]) if more and rows else None)


async def move_to(source_contact_id: int, target_contact_id: int) -> int:
    """Merge support: the whole timeline of one contact becomes the other's."""
    moved = await Interaction.update({Interaction.contact: target_contact_id}).where(
        Interaction.contact == source_contact_id).returning(Interaction.id)
    return len(moved)
