"""Wire shapes of the email API: settings, test email, outbound email, templates and canned responses."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec

from app.lib.wire import DbInt, Id, Patch

TlsMode = Literal["none", "starttls", "tls"]
TemplateKind = Literal["email", "canned"]


class EmailConfigIn(msgspec.Struct, forbid_unknown_fields=True):
    """Outgoing mail settings; an empty or missing `smtp_password` keeps the stored one."""

    smtp_host: str
    from_address: str
    smtp_port: DbInt = 587
    smtp_tls: TlsMode = "starttls"
    smtp_user: str = ""
    smtp_password: str = ""
    from_name: str = ""


class EmailConfigOut(msgspec.Struct, omit_defaults=True):
    inbound_address: str
    configured: bool
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_tls: str | None = None
    smtp_user: str | None = None
    password_set: bool | None = None
    from_address: str | None = None
    from_name: str | None = None
    updated_at: dt.datetime | None = None


class EmailTestIn(msgspec.Struct, forbid_unknown_fields=True):
    """Where the test email goes; empty sends it to the admin who asks."""

    to: str = ""


class EmailTestOut(msgspec.Struct, omit_defaults=True):
    ok: bool
    to: str
    error: str | None = None


class AttachmentIn(msgspec.Struct, forbid_unknown_fields=True):
    filename: str
    data: str
    """The file's bytes, base64."""
    content_type: str = "application/octet-stream"


class EmailIn(msgspec.Struct, forbid_unknown_fields=True):
    """An email to a contact. `body` is plain text (an HTML part is made from it); subject and body may use
    {{ variables }}. `reply_to` (an email id) or `conversation_id` threads it; a reply may leave the subject out."""

    subject: str = ""
    body: str = ""
    to: str = ""
    template_id: Id | None = None
    variables: dict[str, Any] = {}
    reply_to: Id | None = None
    conversation_id: Id | None = None
    attachments: list[AttachmentIn] = []


class TemplateIn(msgspec.Struct, forbid_unknown_fields=True):
    """An email template (`kind` email) or a canned response (`kind` canned, usually with a `shortcut`)."""

    name: str
    body: str
    kind: TemplateKind = "email"
    shortcut: str = ""
    subject: str = ""


class TemplatePatch(Patch, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields present change."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    body: str | msgspec.UnsetType = msgspec.UNSET
    kind: TemplateKind | msgspec.UnsetType = msgspec.UNSET
    shortcut: str | msgspec.UnsetType = msgspec.UNSET
    subject: str | msgspec.UnsetType = msgspec.UNSET


class TemplateOut(msgspec.Struct):
    id: int
    kind: str
    name: str
    shortcut: str
    subject: str
    body: str


class RenderIn(msgspec.Struct, forbid_unknown_fields=True):
    """The contact whose details fill the variables; none renders the contact's variables empty. Or a conversation:
    its client fills them (404 for a conversation whose queue you do not see)."""

    contact_id: Id | None = None
    conversation_id: Id | None = None


class RenderOut(msgspec.Struct):
    id: int
    subject: str
    body: str


def as_dict(data: msgspec.Struct) -> dict[str, Any]:
    """A validated body as the plain dict the services take (the HTML forms feed them the same shape)."""
    out: dict[str, Any] = msgspec.to_builtins(data)
    return out
