"""Tenant-schema tables of the realtime layer: the bounded event log and its id counter."""

from __future__ import annotations

from piccolo.columns import JSONB, Array, BigInt, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class EventLog(Table, tablename="event_log"):
    """Recent events of this tenant, oldest trimmed; `id` is the replay cursor a console sends back."""

    id = BigInt(primary_key=True)
    name = Varchar(length=64)
    data = JSONB(default="{}")
    channels = Array(base_column=Varchar(length=64))
    at = Timestamptz(default=TimestamptzNow(), index=True)


class EventSeq(Table, tablename="event_seq"):
    """One row: the last event id handed out. Its row lock orders ids by commit (see realtime.log)."""

    id = Integer(primary_key=True)
    last_id = BigInt(default=0)
