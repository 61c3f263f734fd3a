"""Audit entries; a trigger (see the accounts migrations) rejects UPDATE and DELETE."""

from __future__ import annotations

from piccolo.columns import JSONB, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class AuditEntry(Table, tablename="audit_entry"):
    id: Serial
    at = Timestamptz(default=TimestamptzNow(), index=True)
    actor_id = Integer(null=True, default=None)
    actor = Varchar(length=254, default="")
    action = Varchar(length=64, index=True)
    target_type = Varchar(length=40, default="")
    target_id = Varchar(length=64, default="")
    detail = JSONB(default={})
    ip = Varchar(length=64, default="")
