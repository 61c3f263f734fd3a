"""Tenant-schema tables of consent: the append-only ledger and the suppression list (hashes, never addresses).

No code path updates or deletes a `consent_entry` row except a contact's erasure (app.privacy); `suppression` rows
are never deleted: they outlive the contact, so an erased address is still never messaged."""

from __future__ import annotations

from piccolo.columns import Array, Boolean, ForeignKey, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.contacts.tables import Contact

CHANNELS = ("sms", "email", "call")
PURPOSES = ("marketing", "transactional")
STATUSES = ("opt_in", "opt_out")
SOURCES = ("form", "keyword", "one_click", "operator", "import", "carrier_error")


class ConsentEntry(Table, tablename="consent_entry"):
    id: Serial
    contact = ForeignKey(references=Contact, null=False, index=True)
    channel = Varchar(length=8)  # sms | email | call
    purpose = Varchar(length=16)  # marketing | transactional
    status = Varchar(length=8)  # opt_in | opt_out
    source = Varchar(length=16)  # form | keyword | one_click | operator | import | carrier_error
    evidence = Text(default="")
    """What proves it: the form's URL and IP, the SMS text, the operator's words about the call."""
    recorded_by = ForeignKey(references=User, null=True, default=None)
    at = Timestamptz(default=TimestamptzNow())


class Suppression(Table, tablename="suppression"):
    id: Serial
    address_hash = Varchar(length=64)
    """hex sha256 of `salt + channel + ":" + normalised address` (E.164 or lower-cased email); unique per channel."""
    channel = Varchar(length=8)
    source = Varchar(length=16)
    at = Timestamptz(default=TimestamptzNow())


class ConsentSalt(Table, tablename="consent_salt"):
    """One row: the tenant's secret salt for suppression hashes (made by the migration, never changed)."""

    id: Serial
    salt = Varchar(length=64)


class ConsentSettings(Table, tablename="consent_settings"):
    """At most one row: the shop's consent rules (no row = the defaults)."""

    id: Serial
    marketing_needs_opt_in = Boolean(default=False)
    """False: marketing may go unless the contact opted out; True: only to contacts whose latest entry is opt_in."""
    stop_words = Array(base_column=Text())
    """Own SMS opt-out words (Russian, Bulgarian, ...) besides STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT."""
    start_words = Array(base_column=Text())
    """The shop's own SMS opt-in words (Russian, Bulgarian, ...) besides START, UNSTOP."""
    updated_at = Timestamptz(default=TimestamptzNow())
