"""Wire shapes of the security console's API."""

from __future__ import annotations

import datetime as dt

import msgspec


class RejectionOut(msgspec.Struct):
    reason: str
    """`missing_signature`, `bad_signature`, `foreign_signature`, `replayed`, `stale` or `foreign_origin`."""
    source: str
    """The client address the request came from."""
    path: str
    at: dt.datetime
    detail: str


class DayCountOut(msgspec.Struct):
    day: dt.date
    """In the caller's time zone."""
    reason: str
    count: int
    """Every rejection of that day and reason, those past the per-minute cap included."""
    dropped: int
    """Rejections past the per-minute cap (counted, not listed)."""


class RejectionsOut(msgspec.Struct):
    items: list[RejectionOut]
    """Newest first, at most 200."""
    per_day: list[DayCountOut]
    """The last 14 days, newest first."""
