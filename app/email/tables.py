"""Tenant-schema tables of the email channel: SMTP settings, messages both ways, raw inbound mail, templates."""

from __future__ import annotations

from piccolo.columns import JSONB, Bytea, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.contacts.tables import Contact
from app.conversations.tables import Conversation

TLS_MODES = ("none", "starttls", "tls")
STATUSES = ("queued", "sent", "failed", "received")


class EmailAccount(Table, tablename="email_account"):
    """The tenant's outgoing mail server (one row). The password is stored encrypted and never leaves the server."""

    id: Serial
    smtp_host = Varchar(length=253)
    smtp_port = Integer(default=587)
    smtp_tls = Varchar(length=10, default="starttls")
    smtp_user = Varchar(length=254, default="")
    smtp_password_enc = Text(default="")
    from_address = Varchar(length=254)
    from_name = Varchar(length=100, default="")
    updated_at = Timestamptz(default=TimestamptzNow())


class InboundMail(Table, tablename="inbound_mail"):
    """Every accepted inbound message exactly as received, kept for inspection; the job parses it from here."""

    id: Serial
    mail_from = Varchar(length=254, default="")
    rcpt_to = Varchar(length=254)
    peer = Varchar(length=100, default="")
    size = Integer(default=0)
    content = Bytea()  # the message as received (not `raw`: that name is Table.raw())
    # Its Message-ID (without angle brackets; NULL when it has none): one copy per shop however often it arrives.
    message_id = Varchar(length=300, null=True, default=None, unique=True)
    received_at = Timestamptz(default=TimestamptzNow())
    processed_at = Timestamptz(null=True, default=None)
    error = Text(default="")


class EmailMessage(Table, tablename="email_message"):
    """One email in either direction; outbound goes queued -> sent | failed, inbound is `received`."""

    id: Serial
    direction = Varchar(length=3)  # in | out
    contact = ForeignKey(references=Contact, null=True)
    conversation = ForeignKey(references=Conversation, null=True)
    inbound = ForeignKey(references=InboundMail, null=True, unique=True)
    status = Varchar(length=10, default="queued", index=True)
    message_id = Varchar(length=300, index=True)  # without angle brackets
    in_reply_to = Varchar(length=300, default="")
    thread_refs = Text(default="")  # the References header
    reply_token = Varchar(length=40, default="", index=True)
    subject = Varchar(length=300, default="")
    from_address = Varchar(length=254, default="")
    to_address = Varchar(length=254, default="")
    text = Text(default="")
    html = Text(default="")
    attachments = JSONB(default=[])  # [{"key", "filename", "content_type", "size"}]
    headers = JSONB(default={})
    """Extra headers of an outbound email, {name: value} (a campaign's List-Unsubscribe and List-Unsubscribe-Post)."""
    error = Text(default="")
    attempts = Integer(default=0)
    interaction_id = Integer(null=True, default=None)
    sent_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)


class EmailTemplate(Table, tablename="email_template"):
    """A reusable email with {{ variables }} (rendered in a sandbox): `email` templates and `canned` snippets."""

    id: Serial
    kind = Varchar(length=10, default="email")  # email | canned
    name = Varchar(length=100)
    shortcut = Varchar(length=40, default="")
    subject = Varchar(length=300, default="")
    body = Text(default="")
    updated_at = Timestamptz(default=TimestamptzNow())
