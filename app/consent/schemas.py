"""Wire shapes of the consent API. Times are ISO 8601 with an offset; they are stored in UTC."""

from __future__ import annotations

import datetime as dt

import msgspec


class ConsentIn(msgspec.Struct, forbid_unknown_fields=True):
    channel: str
    """sms | email | call"""
    purpose: str
    """marketing | transactional"""
    status: str
    """opt_in | opt_out"""
    source: str = "operator"
    """form | keyword | one_click | operator | import | carrier_error"""
    evidence: str = ""
    """What proves it (the form's URL, the SMS text, what the client said on the call)."""


class ConsentOut(msgspec.Struct):
    id: int
    channel: str
    purpose: str
    status: str
    source: str
    at: dt.datetime
    evidence: str = ""
    recorded_by_id: int | None = None
