"""Tenant-schema tables of the realtime layer: the event log and the durable listeners' cursors.

Columns Piccolo has no type for are created in SQL by the migrations (realtime_2026_11_30t21_00_00): the log's
`tx xid8` (the writing transaction; positions are (tx, id), see realtime.log), its id sequence, the one-row
`event_log_floor` (the newest position trimmed away) and the cursors' `last_tx`.
"""

from __future__ import annotations

from piccolo.columns import JSONB, Array, BigInt, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class EventLog(Table, tablename="event_log"):
    """Recent events of this tenant, oldest trimmed; (tx, id) is the replay cursor a console sends back."""

    id = BigInt(primary_key=True)
    name = Varchar(length=64)
    data = JSONB(default="{}")
    channels = Array(base_column=Varchar(length=64))
    at = Timestamptz(default=TimestamptzNow(), index=True)


class ListenerCursor(Table, tablename="listener_cursor"):
    """Where one durable listener stands in this tenant's event log, and whether it is running or parked."""

    name = Varchar(length=64, primary_key=True)
    last_event_id = BigInt(default=0)
    """With `last_tx` (xid8, SQL only): every event up to the position (last_tx, last_event_id) has been handled
    (its effects committed with this row)."""
    events = Array(base_column=Varchar(length=64))
    """The event names the listener reacts to (empty: all); trimming keeps only those it has not handled yet."""
    state = Varchar(length=16, default="active")
    """`active` or `parked` (too many failures in a row, or too far behind the log: an admin resumes it)."""
    attempts = Integer(default=0)
    """Failures in a row on the event after the cursor."""
    next_attempt_at = Timestamptz(null=True, default=None)
    last_error = Text(default="")
    updated_at = Timestamptz(default=TimestamptzNow())
