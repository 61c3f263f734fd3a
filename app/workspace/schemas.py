"""JSON shapes of the workspace API (/t/{slug}/api/v1/workspace/...)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from app.conversations.schemas import ConversationOut


class ListItemOut(ConversationOut):
    unread: int = 0
    """Customer messages since you last opened it."""


class WorkspaceListOut(msgspec.Struct):
    waiting: list[ListItemOut]
    mine: list[ListItemOut]


class ThreadItemOut(msgspec.Struct):
    id: int
    channel: str
    direction: str
    occurred_at: dt.datetime
    actor_type: str
    actor_label: str
    summary: str
    payload: dict[str, Any]


class ThreadOut(msgspec.Struct):
    conversation: ConversationOut
    items: list[ThreadItemOut]
    """Oldest first: the newest page, or the page before `before`."""
    earlier: str | None
    """Pass as `before` to read the page before this one; null at the start of the thread."""
    reply_channels: list[str]


class ReplyIn(msgspec.Struct, forbid_unknown_fields=True):
    body: str
    channel: str = ""
    """sms, email or chat; empty: the conversation's own channel."""
    subject: str = ""
    """Email only; defaults to "Re: <the conversation's subject>"."""


class NoteIn(msgspec.Struct, forbid_unknown_fields=True):
    body: str
    """Markdown; @first-name, @full.name or @email-local-part notifies that teammate."""


class NoteOut(msgspec.Struct):
    id: int
    contact_id: int
    body: str
    mentioned: list[int]


class MentionOut(msgspec.Struct):
    id: int
    conversation_id: int
    note_id: int | None
    created_at: dt.datetime
    by_name: str | None
    client: str
    channel: str


class LinkIn(msgspec.Struct, forbid_unknown_fields=True):
    contact_id: int | None = None
    """Link to this existing contact (the sender's placeholder contact is merged into it)."""
    name: str = ""
    """Or create/name the contact: name (required), company, phone, email."""
    company: str = ""
    phone: str = ""
    email: str = ""


