"""Consent rules: append to the ledger, read it, and keep the suppression list of opted-out addresses.

The ledger is append-only: nothing here updates or deletes an entry (a contact's erasure in app.privacy is the one
exception, and it keeps the suppression hashes). An opt-out for marketing puts a salted hash of each of the
contact's addresses on that channel on the suppression list; an opt-in for marketing from the contact (form,
keyword, operator) takes them off again. A hash, never the address: the list outlives the contact.

Every function runs inside the caller's unit of work."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from app.audit import services as audit
from app.consent.events import CONSENT_RECORDED
from app.consent.one_click import list_unsubscribe_headers as list_unsubscribe_headers  # re-exported: the contract
from app.consent.one_click import one_click_url as one_click_url
from app.consent.one_click import verify
from app.consent.tables import (
    CHANNELS,
    PURPOSES,
    SOURCES,
    STATUSES,
    ConsentEntry,
    ConsentSalt,
    ConsentSettings,
    Suppression,
)
from app.contacts import services as contacts
from app.contacts.tables import Contact, ContactEmail, ContactPhone
from app.lib.clock import now
from app.lib.db import current_uow, save_single_row
from app.lib.domain import MergeStep
from app.lib.errors import Invalid, NotFound
from app.lib.identities import normalize_email, normalize_phone
from realtime.publish import emit

MAX_EVIDENCE = 2000
PHONE_CHANNELS = ("sms", "call")


def _check(value: str, choices: tuple[str, ...], field: str) -> str:
    if value not in choices:
        raise Invalid("%(name)s must be one of: %(choices)s.", field=field, name=field, choices=", ".join(choices))
    return value


async def _salt() -> str:
    return str(await ConsentSalt.select(ConsentSalt.salt).order_by(ConsentSalt.id).first().output(as_list=True)
               or "")


async def normalise(channel: str, address: str) -> str:
    """The address as it is hashed: E.164 for sms/call (the workspace's default region for local numbers), the
    lower-cased address for email."""
    _check(channel, CHANNELS, "channel")
    if channel == "email":
        return normalize_email(address, field="address").lower()
    return normalize_phone(address, await contacts.default_region(), field="address")


def _hash(salt: str, channel: str, normalised: str) -> str:
    return hashlib.sha256(f"{salt}{channel}:{normalised}".encode()).hexdigest()


async def address_hash(channel: str, address: str) -> str:
    """The salted sha256 of a normalised address on a channel, as the suppression list stores it."""
    return _hash(await _salt(), channel, await normalise(channel, address))


async def suppress(channel: str, addresses: Iterable[str], source: str) -> int:
    """Put addresses (already normalised: E.164 or lower-cased email) on the suppression list; returns how many were
    new. Used by an opt-out and by a contact's erasure."""
    salt = await _salt()
    hashes = sorted({_hash(salt, channel, a) for a in addresses if a})
    if not hashes:
        return 0
    rows = await current_uow().connection.fetch(
        "INSERT INTO suppression (address_hash, channel, source) SELECT h, $2, $3 FROM unnest($1::text[]) AS h "
        "ON CONFLICT (channel, address_hash) DO NOTHING RETURNING id", hashes, channel, source)
    return len(rows)


async def _unsuppress(channel: str, addresses: Iterable[str]) -> None:
    salt = await _salt()
    hashes = [_hash(salt, channel, a) for a in addresses if a]
    if hashes:
        await current_uow().connection.execute(
            "DELETE FROM suppression WHERE channel = $1 AND address_hash = ANY($2::text[])", channel, hashes)


async def is_suppressed(channel: str, address: str) -> bool:
    """True when the address opted out of marketing on this channel (even if its contact was since erased)."""
    try:
        digest = await address_hash(channel, address)
    except Invalid:
        return False
    return bool(await Suppression.exists().where((Suppression.channel == channel)
                                                 & (Suppression.address_hash == digest)))


async def addresses_of(contact_id: int, channel: str) -> list[str]:
    """The contact's addresses on a channel: phones for sms and call, emails for email."""
    if channel == "email":
        rows = await ContactEmail.select(ContactEmail.email).where(ContactEmail.contact == contact_id)
        return [r["email"].lower() for r in rows]
    rows = await ContactPhone.select(ContactPhone.e164).where(ContactPhone.contact == contact_id)
    return [r["e164"] for r in rows]


async def record(contact_id: int, channel: str, purpose: str, status: str, source: str, evidence: str = "", *,
                 recorded_by: int | None = None, ref: str = "") -> dict[str, Any]:
    """Append one entry to the contact's ledger. An opt-out for marketing suppresses the contact's addresses on that
    channel; an opt-in for marketing lifts it. `ref` rides on the event (a campaign recipient's tracking token)."""
    _check(channel, CHANNELS, "channel")
    _check(purpose, PURPOSES, "purpose")
    _check(status, STATUSES, "status")
    _check(source, SOURCES, "source")
    evidence = (evidence or "").strip()
    if len(evidence) > MAX_EVIDENCE:
        raise Invalid("evidence must be at most %(max)s characters.", field="evidence", max=MAX_EVIDENCE)
    if not await Contact.exists().where((Contact.id == contact_id) & Contact.deleted_at.is_null()):
        raise NotFound("No such contact.")
    rows = await ConsentEntry.insert(ConsentEntry(
        contact=contact_id, channel=channel, purpose=purpose, status=status, source=source, evidence=evidence,
        recorded_by=recorded_by)).returning(ConsentEntry.id)
    entry_id = rows[0]["id"]
    if purpose == "marketing":
        addresses = await addresses_of(contact_id, channel)
        if status == "opt_out":
            await suppress(channel, addresses, source)
        else:
            await _unsuppress(channel, addresses)
    await emit(CONSENT_RECORDED, entry_id=entry_id, contact_id=contact_id, channel=channel, purpose=purpose,
               status=status, source=source, ref=ref[:64])
    return await _entry(entry_id)


LEDGER_COLUMNS = (ConsentEntry.id, ConsentEntry.contact.as_alias("contact_id"), ConsentEntry.channel,
                  ConsentEntry.purpose, ConsentEntry.status, ConsentEntry.source, ConsentEntry.evidence,
                  ConsentEntry.recorded_by.as_alias("recorded_by_id"),
                  ConsentEntry.recorded_by.name.as_alias("recorded_by_name"), ConsentEntry.at)


async def _entry(entry_id: int) -> dict[str, Any]:
    row = await ConsentEntry.select(*LEDGER_COLUMNS).where(ConsentEntry.id == entry_id).first()
    assert row is not None
    return row


async def ledger(contact_id: int) -> list[dict[str, Any]]:
    """The contact's consent entries, newest first (404 for no such contact)."""
    if not await Contact.exists().where(Contact.id == contact_id):
        raise NotFound("No such contact.")
    return await ConsentEntry.select(*LEDGER_COLUMNS).where(ConsentEntry.contact == contact_id).order_by(
        ConsentEntry.at, ascending=False).order_by(ConsentEntry.id, ascending=False)


async def current(contact_id: int) -> dict[tuple[str, str], str]:
    """The latest status per (channel, purpose) of a contact; a pair never recorded is absent."""
    out: dict[tuple[str, str], str] = {}
    for row in reversed(await ledger(contact_id)):
        out[(row["channel"], row["purpose"])] = row["status"]
    return out


async def _move_to_contact(source: int, target: int) -> int:
    """Merge step: the merged-away contact's ledger becomes the survivor's (entries keep their times)."""
    status = await current_uow().connection.execute("UPDATE consent_entry SET contact = $2 WHERE contact = $1",
                                                    source, target)
    return int(status.split()[-1])


# -- may a message go? ---------------------------------------------------------------------------------------------

BLOCK_REASONS = ("suppressed", "opted_out", "no_opt_in", "transactional_only")
MARKETING_CHANNELS = ("sms", "email")
"""Channels a shop may market on; calls are for service only (a marketing call is 'transactional_only')."""


async def settings() -> dict[str, Any]:
    """The shop's consent rules (the defaults when never saved)."""
    row = await ConsentSettings.select().order_by(ConsentSettings.id).first()
    return row or {"id": None, "marketing_needs_opt_in": False, "stop_words": [], "start_words": [],
                   "updated_at": None}


MAX_WORDS = 10
STANDARD_STOP_WORDS = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT")
STANDARD_START_WORDS = ("START", "UNSTOP")
"""The SMS keywords every shop honours (carriers and Twilio know them); the shop adds its own words."""


def _words(values: Iterable[str], field: str) -> list[str]:
    out: list[str] = []
    for raw in values:
        word = raw.strip().strip(".!").strip()
        if not word:
            continue
        if len(word) > 40 or " " in word:
            raise Invalid("A keyword is one word of at most 40 characters: %(word)s", field=field, word=word[:60])
        if word.casefold() not in {w.casefold() for w in out}:
            out.append(word)
    if len(out) > MAX_WORDS:
        raise Invalid("At most %(max)s keywords.", field=field, max=MAX_WORDS)
    return out


async def save_settings(actor: Any, *, marketing_needs_opt_in: bool, stop_words: Iterable[str],
                        start_words: Iterable[str]) -> dict[str, Any]:
    """Save the shop's consent rules; a word may not be both a stop and a start word."""
    stop, start = _words(stop_words, "stop_words"), _words(start_words, "start_words")
    both = {w.casefold() for w in stop} & {w.casefold() for w in start}
    if both:
        raise Invalid("A word cannot both stop and start messages: %(words)s", field="start_words",
                      words=", ".join(sorted(both)))
    row = await settings()
    values = {ConsentSettings.marketing_needs_opt_in: bool(marketing_needs_opt_in), ConsentSettings.stop_words: stop,
              ConsentSettings.start_words: start, ConsentSettings.updated_at: now()}
    await save_single_row(ConsentSettings, values, row["id"])
    await audit.record("consent.settings_saved", actor_id=getattr(actor, "user_id", None),
                       actor=getattr(actor, "label", ""), target_type="consent_settings",
                       detail={"marketing_needs_opt_in": bool(marketing_needs_opt_in), "stop_words": stop,
                               "start_words": start})
    return await settings()


async def one_click_unsubscribe(token: str, evidence: str) -> dict[str, Any]:
    """An RFC 8058 one-click POST (or the confirm page's button): an opt-out for the link's channel and purpose
    with source 'one_click'. Idempotent: a second POST of the same link writes nothing more."""
    link = verify(token)
    if not await Contact.exists().where(Contact.id == link.contact_id):
        raise NotFound("This unsubscribe link is not valid. Use the link from the latest message.")
    if await Contact.exists().where((Contact.id == link.contact_id) & Contact.deleted_at.is_not_null()):
        return {"contact_id": link.contact_id, "channel": link.channel, "purpose": link.purpose, "ref": link.ref,
                "recorded": False}  # erased: its addresses are already on the suppression list
    recorded = await latest_status(link.contact_id, link.channel, link.purpose) != "opt_out"
    if recorded:
        await record(link.contact_id, link.channel, link.purpose, "opt_out", "one_click", evidence[:MAX_EVIDENCE],
                     ref=link.ref)
    return {"contact_id": link.contact_id, "channel": link.channel, "purpose": link.purpose, "ref": link.ref,
            "recorded": recorded}


async def link_view(token: str) -> dict[str, Any]:
    """What the confirm page needs: the link's contents and the contact's language (404 for a bad link)."""
    link = verify(token)
    row = await Contact.select(Contact.language, Contact.deleted_at).where(Contact.id == link.contact_id).first()
    if row is None:
        raise NotFound("This unsubscribe link is not valid. Use the link from the latest message.")
    status = await latest_status(link.contact_id, link.channel, link.purpose)
    return {"channel": link.channel, "purpose": link.purpose, "language": row["language"] or "",
            "done": status == "opt_out" or row["deleted_at"] is not None}


async def latest_status(contact_id: int, channel: str, purpose: str) -> str | None:
    """The contact's latest status for one channel and purpose (None when never recorded)."""
    return await current_uow().connection.fetchval(
        "SELECT status FROM consent_entry WHERE contact = $1 AND channel = $2 AND purpose = $3 "
        "ORDER BY at DESC, id DESC LIMIT 1", contact_id, channel, purpose)


async def blocked(channel: str, address: str, *, contact_id: int | None, purpose: str = "marketing") -> str | None:
    """None when a message on `channel` to `address` for `purpose` may go now, else why not: 'opted_out' (the
    contact's latest entry for the channel and purpose is an opt-out), 'suppressed' (the address is on the
    suppression list, even if its contact was erased or it belongs to another card), 'no_opt_in' (the shop requires
    an opt-in for marketing and there is none), 'transactional_only' (marketing on a service-only channel).
    Checked per message, so an opt-out recorded mid-campaign stops the next message."""
    _check(channel, CHANNELS, "channel")
    _check(purpose, PURPOSES, "purpose")
    status = await latest_status(contact_id, channel, purpose) if contact_id is not None else None
    if status == "opt_out":
        return "opted_out"
    if purpose != "marketing":
        return None
    if channel not in MARKETING_CHANNELS:
        return "transactional_only"
    if address and await is_suppressed(channel, address):
        return "suppressed"
    if status != "opt_in" and (await settings())["marketing_needs_opt_in"]:
        return "no_opt_in"
    return None


MERGE_STEP = MergeStep("consent", _move_to_contact, tables=("consent_entry",))
