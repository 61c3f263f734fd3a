"""Tenant-schema tables of the security console: rejected inbound requests and their per-minute counts."""

from __future__ import annotations

from piccolo.columns import Bytea, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Rejection(Table, tablename="security_rejection"):
    """One rejected inbound request, kept in full (up to the cap per reason, source and minute)."""

    id: Serial
    reason = Varchar(length=40)
    source = Varchar(length=100)
    """The client address the request came from."""
    path = Varchar(length=300)
    detail = Text(default="")
    at = Timestamptz(default=TimestamptzNow())


class RejectionMinute(Table, tablename="security_rejection_minute"):
    """How many requests were rejected per reason, source and minute: `recorded` kept in full, `dropped` past the cap
    (a flood is counted, not stored). Counts per day are sums of these rows."""

    id: Serial
    reason = Varchar(length=40)
    source = Varchar(length=100)
    minute = Timestamptz()
    recorded = Integer(default=0)
    dropped = Integer(default=0)


class SeenRequest(Table, tablename="security_seen_request"):
    """A signed request accepted once (sha256 of its signature, URL and body): seen again after the redelivery window,
    it is a replay."""

    digest = Bytea(primary_key=True)
    first_at = Timestamptz(default=TimestamptzNow())
