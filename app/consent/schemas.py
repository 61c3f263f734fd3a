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


class ConsentSettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    marketing_needs_opt_in: bool = False
    """False: marketing may go unless the contact opted out; True: only after an opt-in."""
    stop_words: list[str] = []
    """The shop's own SMS opt-out words (e.g. Russian and Bulgarian 'stop') besides STOP, STOPALL, UNSUBSCRIBE,
    CANCEL, END, QUIT."""
    start_words: list[str] = []
    """The shop's own SMS opt-in words besides START and UNSTOP."""


class ConsentSettingsOut(msgspec.Struct):
    marketing_needs_opt_in: bool
    stop_words: list[str]
    start_words: list[str]
    standard_stop_words: list[str]
    standard_start_words: list[str]


class UnsubscribeOut(msgspec.Struct):
    channel: str
    purpose: str
    unsubscribed: bool
    """True: the contact is opted out now (by this request or an earlier one)."""
