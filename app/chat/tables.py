"""Web chat tables (one copy per tenant schema): the shop's widget settings, visitor sessions and their messages."""

from __future__ import annotations

from piccolo.columns import JSONB, ForeignKey, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.contacts.tables import Contact
from app.conversations.tables import Conversation

DIRECTIONS = ("in", "out")
STATUSES = ("sent", "delivered", "read")
"""A message's delivery state, in order: stored, shown on the other side's screen, seen by the other side."""


class ChatSettings(Table, tablename="chat_settings"):
    """One row: where the widget may run (the shop's site origins) and what it says first."""

    id = Serial(primary_key=True)
    allowed_origins = JSONB(default=[])
    greeting = Varchar(length=300, default="Hi! How can we help?")
    updated_at = Timestamptz(default=TimestamptzNow())


class ChatSession(Table, tablename="chat_session"):
    """One visitor's chat, authorised by a random token kept in the visitor's localStorage (only its hash here)."""

    id = Serial(primary_key=True)
    token_hash = Varchar(length=64, unique=True)
    origin = Varchar(length=300, default="")
    page_url = Varchar(length=500, default="")
    visitor_name = Varchar(length=100, default="")
    visitor_email = Varchar(length=254, default="")
    visitor_phone = Varchar(length=32, default="")
    contact = ForeignKey(references=Contact, null=True, on_delete=OnDelete.set_null)
    conversation = ForeignKey(references=Conversation, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    last_seen_at = Timestamptz(default=TimestamptzNow())


class ChatMessage(Table, tablename="chat_message"):
    id = Serial(primary_key=True)
    chat_session = ForeignKey(references=ChatSession, on_delete=OnDelete.cascade)
    conversation = ForeignKey(references=Conversation, null=True, on_delete=OnDelete.set_null)
    direction = Varchar(length=3)  # in: from the visitor | out: from an operator
    body = Text()
    author_label = Varchar(length=100, default="")
    author = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    status = Varchar(length=10, default="sent")
    created_at = Timestamptz(default=TimestamptzNow())
    delivered_at = Timestamptz(null=True, default=None)
    read_at = Timestamptz(null=True, default=None)
