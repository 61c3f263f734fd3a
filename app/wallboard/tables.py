"""Tenant-schema table of the wallboard: the wallboard-only sign-in tokens (stored hashed, revocable)."""

from __future__ import annotations

from piccolo.columns import ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User


class WallboardToken(Table, tablename="wallboard_token"):
    """A link that shows the wallboard and nothing else (a wall TV). Only the SHA-256 of the secret is kept."""

    id: Serial
    name = Varchar(length=100)
    prefix = Varchar(length=12)
    """The secret's first characters, to tell tokens apart in the list."""
    token_hash = Varchar(length=64, unique=True)
    created_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
