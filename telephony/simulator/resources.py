"""Twilio-shaped resources of the simulator: sids, RFC 2822 dates, JSON bodies, error bodies, generated audio."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import io
import math
import secrets
import struct
import wave
from typing import Any

API_VERSION = "2010-04-01"
PUBLIC_API = "https://api.twilio.com"


def sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def rfc2822(when: dt.datetime | None) -> str | None:
    return email.utils.format_datetime(when, usegmt=True) if when else None


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def error_body(status: int, code: int, message: str) -> dict[str, Any]:
    """Twilio's REST error shape."""
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


def wav(seconds: int, *, channels: int = 1, rate: int = 8000) -> bytes:
    """A real WAV of `seconds` (a quiet 440 Hz tone), like a recording's media."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        frame = bytearray()
        for i in range(rate):
            sample = struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * i / rate)))
            frame += sample * channels
        for _ in range(max(seconds, 1)):
            w.writeframes(bytes(frame))
    return buf.getvalue()


@dataclasses.dataclass
class Account:
    sid: str
    auth_token: str
    friendly_name: str = "Simulated account"
    created: dt.datetime = dataclasses.field(default_factory=utcnow)

    def json(self) -> dict[str, Any]:
        base = f"/{API_VERSION}/Accounts/{self.sid}"
        return {"sid": self.sid, "friendly_name": self.friendly_name, "status": "active", "type": "Full",
                "auth_token": self.auth_token, "owner_account_sid": self.sid, "date_created": rfc2822(self.created),
                "date_updated": rfc2822(self.created), "uri": base + ".json",
                "subresource_uris": {"calls": base + "/Calls.json", "messages": base + "/Messages.json",
                                     "recordings": base + "/Recordings.json"}}


@dataclasses.dataclass
class PhoneNumber:
    """An incoming phone number's configuration (Twilio's IncomingPhoneNumber: VoiceUrl, SmsUrl, ...)."""

    number: str
    account_sid: str
    voice_url: str = ""
    voice_fallback_url: str = ""
    status_callback: str = ""
    sms_url: str = ""


@dataclasses.dataclass
class Recording:
    sid: str
    account_sid: str
    call_sid: str
    duration: int
    source: str
    channels: int
    audio: bytes
    status: str = "completed"
    created: dt.datetime = dataclasses.field(default_factory=utcnow)

    def json(self) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{self.sid}"
        return {"sid": self.sid, "account_sid": self.account_sid, "call_sid": self.call_sid, "conference_sid": None,
                "channels": self.channels, "date_created": rfc2822(self.created), "date_updated": rfc2822(self.created),
                "start_time": rfc2822(self.created), "duration": str(self.duration), "price": None,
                "price_unit": "USD", "source": self.source, "status": self.status, "error_code": None,
                "api_version": API_VERSION, "encryption_details": None, "uri": uri + ".json",
                "media_url": PUBLIC_API + uri, "subresource_uris": {}}


@dataclasses.dataclass
class Message:
    sid: str
    account_sid: str
    from_: str
    to: str
    body: str
    direction: str
    status: str
    status_callback: str = ""
    error_code: int | None = None
    created: dt.datetime = dataclasses.field(default_factory=utcnow)
    updated: dt.datetime = dataclasses.field(default_factory=utcnow)

    def json(self) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"
        return {"sid": self.sid, "account_sid": self.account_sid, "to": self.to, "from": self.from_,
                "body": self.body, "status": self.status, "num_segments": str(max(1, math.ceil(len(self.body) / 160))),
                "num_media": "0", "direction": self.direction, "api_version": API_VERSION, "price": None,
                "price_unit": "USD", "error_code": self.error_code, "error_message": None,
                "messaging_service_sid": None, "date_created": rfc2822(self.created),
                "date_updated": rfc2822(self.updated), "date_sent": None, "uri": uri, "subresource_uris": {}}
