"""Wire shapes of the web chat: the visitor's public API (used by widget.js) and the operator's API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from app.lib.wire import DbInt


class SessionIn(msgspec.Struct, forbid_unknown_fields=True):
    """Start a chat. Name, email and phone are optional: an email or phone links the chat to a contact."""

    name: str = ""
    email: str = ""
    phone: str = ""
    page_url: str = ""


class WidgetConfigOut(msgspec.Struct):
    greeting: str
    """What the widget says before the visitor writes."""


class SessionOut(msgspec.Struct):
    token: str
    """Keep it (the widget uses localStorage) and send it as `X-Chat-Token`, or `?token=` on the socket."""
    session_id: int
    greeting: str


class VisitorIn(msgspec.Struct, forbid_unknown_fields=True):
    """The visitor leaves their details: an email or a phone (or both)."""

    name: str = ""
    email: str = ""
    phone: str = ""


class IdentifiedOut(msgspec.Struct):
    session_id: int
    linked: bool
    language: str = ""
    """The linked contact's language ("" for none): the widget speaks it from now on (GET /chat/strings)."""


class StringsOut(msgspec.Struct):
    language: str
    messages: dict[str, Any]


class MessageIn(msgspec.Struct, forbid_unknown_fields=True):
    body: str


class MarkIn(msgspec.Struct, forbid_unknown_fields=True):
    upto: DbInt
    """The newest message id the reader has seen; older ones count as seen too."""


class MessageOut(msgspec.Struct):
    id: int
    direction: str
    """in: from the visitor; out: from the shop."""
    body: str
    author_label: str
    status: str
    """sent, delivered (on the other side's screen) or read."""
    created_at: dt.datetime


class TranscriptOut(msgspec.Struct):
    session_id: int
    greeting: str
    messages: list[MessageOut]


class ChatOut(msgspec.Struct):
    """A conversation's web chat, for the operator."""

    conversation_id: int
    session_id: int
    visitor_name: str
    visitor_email: str
    visitor_phone: str
    contact_id: int | None
    origin: str
    messages: list[MessageOut]


class ChatSettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    allowed_origins: list[str]
    """Origins of the shop's site where the widget may run, e.g. `https://shop.example.com`."""
    greeting: str = ""


class ChatSettingsOut(msgspec.Struct):
    allowed_origins: list[str]
    greeting: str
    snippet: str
    """The HTML to paste into the shop's pages."""
