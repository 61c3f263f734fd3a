"""Wire shapes of the telephony API (documented in /schema). The services check the rules and name the field."""

from __future__ import annotations

from typing import Any

import msgspec

from app.lib.wire import DbInt, Id


class DeviceIn(msgspec.Struct, forbid_unknown_fields=True):
    user_id: Id
    address: str
    """The operator's phone (E.164) or SIP address (sip:alice@pbx.example.com) that rings when they accept."""


class TwilioConfigIn(msgspec.Struct, forbid_unknown_fields=True):
    """The whole Twilio configuration; leave `auth_token` out to keep the stored one."""

    account_sid: str
    auth_token: str | None = None
    numbers: list[str] = []
    """The shop's Twilio numbers in E.164."""
    record_calls: bool = False
    greeting: str = ""
    timeout_seconds: DbInt = 60
    """How long a caller waits for an operator before voicemail (5 to 600)."""
    business_hours: dict[str, Any] | None = None
    """{"timezone": "Europe/Berlin", "days": {"mon": ["09:00", "18:00"], ...}}; none: always open."""
    ivr: dict[str, str] | None = None
    """A digit to a queue key, e.g. {"1": "sales", "2": "support"}."""
    devices: list[DeviceIn] | None = None
    """Replaces the operators' devices when given."""
    offer_callback: bool = False
    """Callers waiting in a queue may press 1 to hang up and be called back without losing their place."""


class HoldIn(msgspec.Struct, forbid_unknown_fields=True):
    on: bool = True
    """true: the caller hears hold music; false: your phone rings again."""


class CallTransferIn(msgspec.Struct, forbid_unknown_fields=True):
    """Either an operator (their device rings) or a queue (the caller waits there again)."""

    user_id: Id | None = None
    queue: str | None = None


class CallIn(msgspec.Struct, forbid_unknown_fields=True):
    number: str | None = None
    """The number to call; none: the contact's first phone."""


class SmsIn(msgspec.Struct, forbid_unknown_fields=True):
    body: str
    number: str | None = None
    """The number to text; none: the contact's first phone."""


class MuteIn(msgspec.Struct, forbid_unknown_fields=True):
    on: bool = True
    """true: the others on the call stop hearing you; false: they hear you again."""


class DigitsIn(msgspec.Struct, forbid_unknown_fields=True):
    digits: str
    """DTMF tones to play to the caller: 0-9, * and #, w for a half-second pause (at most 32)."""


class WarmTransferIn(msgspec.Struct, forbid_unknown_fields=True):
    user_id: Id
    """The colleague whose device rings; the caller is held while you two talk."""


class MonitorIn(msgspec.Struct, forbid_unknown_fields=True):
    mode: str
    """listen (muted), whisper (only the operator hears you) or barge (everyone hears you)."""


class CallbackCancelIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str = ""
    """Why the callback is dropped (on the conversation's wrap-up note and the audit log); at most 500 characters."""
