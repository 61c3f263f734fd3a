"""Tenant-schema tables of privacy: data requests (export/erase), legal holds and retention policies.

`privacy_request.contact` is a plain integer (no foreign key): the request log outlives the contact's data and
must not be cascaded away by anything."""

from __future__ import annotations

from piccolo.columns import JSONB, Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.contacts.tables import Contact

KINDS = ("export", "erase")
STATUSES = ("queued", "running", "done", "failed", "refused")
DATA_CLASSES = ("recordings", "messages", "attachments", "closed_conversations", "raw_inbound", "webhook_deliveries",
                "event_log", "audit")
ACTIONS = ("delete", "anonymise")


class PrivacyRequest(Table, tablename="privacy_request"):
    id: Serial
    kind = Varchar(length=8)  # export | erase
    contact = Integer()
    status = Varchar(length=10, default="queued")  # queued | running | done | failed | refused
    requested_by = ForeignKey(references=User, null=True, default=None)
    requested_at = Timestamptz(default=TimestamptzNow())
    due_at = Timestamptz()
    """The legal deadline: 30 days after the request."""
    done_at = Timestamptz(null=True, default=None)
    progress = Integer(default=0)
    """Percent done (export)."""
    storage_key = Varchar(length=300, default="")
    """The export's zip in storage."""
    expires_at = Timestamptz(null=True, default=None)
    """After this the export's download link answers 410."""
    detail = JSONB(default={})
    """Counts (erasure: rows and files touched), or the error a person can act on."""


class LegalHold(Table, tablename="legal_hold"):
    """A contact under legal hold cannot be erased. One row per contact held; clearing deletes it (audited)."""

    id: Serial
    contact = ForeignKey(references=Contact, null=False, unique=True)
    reason = Text()
    set_by = ForeignKey(references=User, null=True, default=None)
    set_at = Timestamptz(default=TimestamptzNow())


class RetentionPolicy(Table, tablename="retention_policy"):
    id: Serial
    data_class = Varchar(length=24, unique=True)
    keep_days = Integer(null=True, default=None)
    """None: keep forever."""
    action = Varchar(length=10, default="delete")  # delete | anonymise
    enabled = Boolean(default=False)
    updated_by = ForeignKey(references=User, null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())
    last_run_at = Timestamptz(null=True, default=None)
    last_count = Integer(null=True, default=None)
