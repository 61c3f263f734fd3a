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


# One MPEG-1 Layer III frame (32 kbps, 32 kHz, mono, 144 bytes, 36 ms) of a quiet 444.4 Hz tone: 16 periods per
# frame and no bit reservoir (main_data_begin = 0), so repeating it plays a seamless tone. Made once with
# `lame -r -s 32 --resample 32 -m m -b 32 --cbr --nores -t` from a 3 s tone (frame 40); the standard library has
# no MP3 encoder, and Twilio serves every recording as MP3 too.
_MP3_FRAME = bytes.fromhex(
    "fffb18c40003c64912fe0bf94640c9225fc00ba890eae11f080ae638b0330570cbe7effc192fdff3b8323ba76f6c5e5f"
    "afedd4b75d3b7170e77ebdf2828e77fe503efe9994a96a611f080184c80441980610cb3bf44c192f7a7ebc1914f7fd78"
    "bc779df9dd4b73bf3b8b873b7e9c5c28edfbd2503eddff3ba964c414d45332e313030000000000000000000000000000"
)
MP3_FRAME_SECONDS = 1152 / 32000


def mp3(seconds: int) -> bytes:
    """A real MP3 of `seconds` (a quiet tone, as `wav` makes), like a recording's `.mp3` media."""
    return _MP3_FRAME * max(1, math.ceil(max(seconds, 1) / MP3_FRAME_SECONDS))


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
    conference_sid: str | None = None

    def json(self) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{self.sid}"
        return {"sid": self.sid, "account_sid": self.account_sid, "call_sid": self.call_sid or None,
                "conference_sid": self.conference_sid,
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
                "date_updated": rfc2822(self.updated), "date_sent": None if self.direction == "outbound-api"
                and self.status in ("queued", "accepted", "sending") else rfc2822(self.created),
                "uri": uri, "subresource_uris": {}}
