"""Whose address is this: the one way to find, or create, the contact of a phone number or an email address.

Every channel that meets a customer by address (calls, SMS, inbound email, web chat visitors, orders from the API
or an import, the contact import) asks here, so that two jobs meeting the same new address at once make one
contact, not two.

Why a lock and not a unique constraint: one phone or email may belong to several live contacts on purpose (a
shop's switchboard, a family inbox; `duplicates.py` lists them and a merge folds them), and a contact has several
of each, so `contact_phone.e164` and `contact_email.email` cannot be unique. Instead, whoever finds-or-creates
takes a transaction-scoped advisory lock per normalised address, keyed by the tenant's schema (advisory locks are
database-wide, and two shops may meet the same number), and only then reads who owns the address. The loser of a
race waits for the winner's transaction to end; its next statement (READ COMMITTED, as every unit of work here)
sees the winner's contact and returns it. A merge takes the same locks for the addresses it moves, so a lookup
sees the contact before or after the merge, never the one being folded away while its links move.

Several addresses are locked in one fixed order (their keys, sorted), so two transactions locking overlapping
sets cannot deadlock each other here. Take addresses before locking rows a merge also locks or moves (contacts,
chat sessions, calls...), as the merge does: the other order can deadlock with a merge (PostgreSQL then aborts one).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from typing import Any

from app.contacts import services
from app.lib.db import current_uow

_OWNERS = {
    "phone": "SELECT p.e164 AS address, min(p.contact) AS contact FROM contact_phone p JOIN contact c ON c.id = "
             "p.contact WHERE c.deleted_at IS NULL AND p.e164 = ANY($1::varchar[]) GROUP BY p.e164",
    "email": "SELECT e.email AS address, min(e.contact) AS contact FROM contact_email e JOIN contact c ON c.id = "
             "e.contact WHERE c.deleted_at IS NULL AND e.email = ANY($1::varchar[]) GROUP BY e.email",
}


@dataclasses.dataclass
class Owners:
    """The live contact (lowest id when several share it) owning each normalised phone and email that has one."""

    phones: dict[str, int] = dataclasses.field(default_factory=dict)
    emails: dict[str, int] = dataclasses.field(default_factory=dict)


def lock_key(schema: str, kind: str, address: str) -> int:
    """The advisory lock key of one address in one tenant schema (64 bits, so unrelated addresses rarely share)."""
    digest = hashlib.blake2b(f"contact-identity\x00{schema}\x00{kind}\x00{address}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock(phones: Iterable[str] = (), emails: Iterable[str] = ()) -> None:
    """Hold these normalised addresses until the current transaction ends; others asking for them wait."""
    schema = current_uow().schema
    keys = sorted({lock_key(schema, "phone", p) for p in phones if p} | {lock_key(schema, "email", e) for e in emails
                                                                          if e})
    if keys:
        await current_uow().connection.execute(
            "SELECT pg_advisory_xact_lock(u.k) FROM unnest($1::bigint[]) WITH ORDINALITY AS u(k, i) ORDER BY u.i",
            keys)


async def owners(phones: Iterable[str] = (), emails: Iterable[str] = ()) -> Owners:
    """Who owns these normalised addresses now, without locking them (previews, guesses)."""
    found = Owners()
    conn = current_uow().connection
    for kind, values, into in (("phone", phones, found.phones), ("email", emails, found.emails)):
        wanted = sorted({v for v in values if v})
        if wanted:
            into.update({r["address"]: r["contact"] for r in await conn.fetch(_OWNERS[kind], wanted)})
    return found


async def claim(phones: Iterable[str] = (), emails: Iterable[str] = ()) -> Owners:
    """Lock the addresses for this transaction, then read who owns them: what a caller about to create a contact
    for the ones nobody owns must use (the contact import claims a whole batch's addresses at once)."""
    phones, emails = list(phones), list(emails)
    await lock(phones, emails)
    return await owners(phones, emails)


async def find_or_create(actor: Any, *, phone: str | None = None, email: str | None = None, name: str = "",
                         source: str) -> int:
    """The contact owning `email` (first) or `phone`, else a new contact with both (and `name`), as one atomic
    step inside the caller's transaction. Addresses must be normalised already (E.164, lower-cased email); with
    neither, there is nothing to find by and a new contact is made."""
    found = await claim([phone] if phone else [], [email] if email else [])
    for contact_id in (found.emails.get(email or ""), found.phones.get(phone or "")):
        if contact_id is not None:
            return contact_id
    card = await services.create(actor, {"name": name, "emails": [email] if email else [],
                                         "phones": [phone] if phone else []}, source=source)
    return int(card["id"])
