"""Tenant-schema tables of the workspace: when each operator last read each conversation, and @mentions."""

from __future__ import annotations

from piccolo.columns import ForeignKey, Integer, Serial, Timestamptz
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.conversations.tables import Conversation


class ConversationSeen(Table, tablename="ws_seen"):
    """The moment `user` last had `conversation` open: what came in after it is unread (one row per pair)."""

    id: Serial
    user = ForeignKey(references=User, null=False)
    conversation = ForeignKey(references=Conversation, null=False)
    seen_at = Timestamptz(default=TimestamptzNow())


class Mention(Table, tablename="ws_mention"):
    """A teammate named with @ in an internal note; `read_at` is set when they open the conversation."""

    id: Serial
    user = ForeignKey(references=User, null=False)
    by_user = ForeignKey(references=User, null=True)
    conversation = ForeignKey(references=Conversation, null=False)
    note_id = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    read_at = Timestamptz(null=True, default=None)
