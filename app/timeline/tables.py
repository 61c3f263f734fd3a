"""The interaction table: one row per thing that happened with a contact."""

from __future__ import annotations

from piccolo.columns import JSONB, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.channels import KEYS as CONVERSATION_CHANNELS
from app.contacts.tables import Contact

# The conversation channels come from the channel registry (app/channels.py); the rest are the timeline's own.
CHANNELS = (*CONVERSATION_CHANNELS, "note", "file", "order", "task", "system")
DIRECTIONS = ("in", "out", "internal")


class Interaction(Table, tablename="interaction"):
    id: Serial
    contact = ForeignKey(references=Contact, null=False)
    channel = Varchar(length=10)
    direction = Varchar(length=10)
    occurred_at = Timestamptz(default=TimestamptzNow())
    actor_type = Varchar(length=10, default="system")  # user | customer | system
    actor_id = Integer(null=True, default=None)
    actor_label = Varchar(length=254, default="")
    summary = Varchar(length=500, default="")
    payload = JSONB(default={})
    links = JSONB(default={})
    created_at = Timestamptz(default=TimestamptzNow())
