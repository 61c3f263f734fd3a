"""Tenant-schema tables of the client card."""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    Array,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User

TEMPERATURES = ("hot", "warm", "cold")


class Contact(Table, tablename="contact"):
    id: Serial
    name = Varchar(length=200, default="")
    company = Varchar(length=200, default="")
    birth_date = Date(null=True, default=None)
    address = Text(default="")
    preferences = Text(default="")
    tags = Array(base_column=Varchar(length=50), default=list)
    temperature = Varchar(length=10, null=True, default=None)
    # True when a person set the temperature: the shop's behaviour rules (app.segments.temperature) leave it alone.
    # The column comes with app/segments' migration.
    temperature_manual = Boolean(default=False)
    owner = ForeignKey(references=User, null=True)
    custom = JSONB(default={})
    # Lower-cased name, company, emails and phone digits: what partial search matches (trigram-indexed).
    search_text = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    last_contact_at = Timestamptz(null=True, default=None, index=True)
    # What the portal, the chat and emails speak to this contact; "" is the workspace's language.
    language = Varchar(length=8, default="")
    # The customer's IANA time zone for the times the portal, the chat widget and emails show them; "" is the
    # browser's on the portal and in the chat, the workspace's in emails.
    timezone = Varchar(length=64, default="")
    merged_into = Integer(null=True, default=None)
    deleted_at = Timestamptz(null=True, default=None)
    version = Integer(default=1)


class ContactPhone(Table, tablename="contact_phone"):
    id: Serial
    contact = ForeignKey(references=Contact, null=False)
    e164 = Varchar(length=20, index=True)
    label = Varchar(length=30, default="")
    position = Integer(default=0)


class ContactEmail(Table, tablename="contact_email"):
    id: Serial
    contact = ForeignKey(references=Contact, null=False)
    email = Varchar(length=254, index=True)
    label = Varchar(length=30, default="")
    position = Integer(default=0)


class CustomField(Table, tablename="custom_field"):
    """A field a tenant admin defines for every contact; values live in Contact.custom[key]."""

    id: Serial
    key = Varchar(length=40, unique=True)
    label = Varchar(length=100)
    kind = Varchar(length=20)  # text | number | date | boolean | select | multiselect
    options = Array(base_column=Varchar(length=100), default=list)
    required = Boolean(default=False)
    unique = Boolean(default=False)
    position = Integer(default=0)
    archived = Boolean(default=False)


class Note(Table, tablename="note"):
    id: Serial
    contact = ForeignKey(references=Contact, null=False, index=True)
    body = Text()
    author = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())


class StoredFile(Table, tablename="stored_file"):
    id: Serial
    contact = ForeignKey(references=Contact, null=False, index=True)
    filename = Varchar(length=255)
    content_type = Varchar(length=100)
    size = Integer()
    sha256 = Varchar(length=64)
    storage_key = Varchar(length=300)
    uploaded_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())


class ContactImport(Table, tablename="contact_import"):
    id: Serial
    filename = Varchar(length=255)
    storage_key = Varchar(length=300)
    encoding = Varchar(length=20, default="utf-8")
    delimiter = Varchar(length=2, default=",")
    mapping = JSONB(default={})
    status = Varchar(length=20, default="uploaded")  # uploaded | queued | running | done | failed
    total = Integer(default=0)
    processed = Integer(default=0)
    created = Integer(default=0)
    updated = Integer(default=0)
    failed = Integer(default=0)
    errors = JSONB(default=[])
    created_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)
