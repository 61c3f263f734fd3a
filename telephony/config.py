"""The tenant's Twilio settings: validate, store (token encrypted), read back without the token, webhook URLs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zoneinfo
from typing import Any

from app.accounts.services import Principal
from app.accounts.tables import User
from app.audit import services as audit
from app.conversations.tables import Queue
from app.lib import crypto
from app.lib.clock import now
from app.lib.db import current_tenant, current_uow, save_single_row
from app.lib.errors import Invalid, NotFound
from app.lib.identities import normalize_phone
from app.settings import get_settings
from telephony.tables import OperatorDevice, TwilioConfig

TOKEN_PURPOSE = "twilio.auth_token"  # noqa: S105 (a key-derivation label, not a secret)
ACCOUNT_SID_RE = re.compile(r"^AC[0-9a-fA-F]{32}$")
AUTH_TOKEN_RE = re.compile(r"^[0-9a-zA-Z]{32}$")
SIP_RE = re.compile(r"^sip:[A-Za-z0-9_.+\-]+@[A-Za-z0-9.\-]+(:\d{1,5})?(;transport=(udp|tcp|tls))?$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HHMM_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
WEBHOOKS = ("voice", "voice-fallback", "status", "recording", "sms", "sms-status")


@dataclasses.dataclass(frozen=True)
class Config:
    """The settings a webhook or job works with; `auth_token` is decrypted and stays on the server."""

    account_sid: str
    auth_token: str
    numbers: list[str]
    record_calls: bool
    greeting: str
    business_hours: dict[str, Any]
    timeout_seconds: int
    ivr: dict[str, str]
    workspace_timezone: str = "UTC"
    offer_callback: bool = False
    """Waiting callers may press CALLBACK_DIGIT to hang up and be called back without losing their place."""
    workspace_language: str = ""
    """What the phone says to callers is in this language (the workspace's; "": English)."""

    def is_open(self, at: dt.datetime | None = None) -> bool:
        """Inside business hours (always, when none are set), on the hours' own clock, else the workspace's."""
        days = (self.business_hours or {}).get("days") or {}
        if not days:
            return True
        tz = zoneinfo.ZoneInfo(self.business_hours.get("timezone") or self.workspace_timezone or "UTC")
        local = (at or now()).astimezone(tz)
        span = days.get(DAYS[local.weekday()])
        if not span:
            return False
        return span[0] <= local.strftime("%H:%M") < span[1]


def webhook_base(slug: str) -> str:
    return f"{get_settings().app.base_url}/t/{slug}/webhooks/twilio"


def webhook_urls(slug: str) -> dict[str, str]:
    base = webhook_base(slug)
    return {name: f"{base}/{name}" for name in WEBHOOKS}


async def load() -> Config | None:
    row = await TwilioConfig.select().order_by(TwilioConfig.id).first().output(load_json=True)
    if row is None:
        return None
    token = crypto.decrypt(row["auth_token_enc"], purpose=TOKEN_PURPOSE)
    ws = await current_uow().connection.fetchrow("SELECT timezone, language FROM workspace LIMIT 1")
    return Config(account_sid=row["account_sid"], auth_token=token,
                  numbers=list(row["numbers"]), record_calls=row["record_calls"], greeting=row["greeting"],
                  business_hours=row["business_hours"] or {}, timeout_seconds=row["timeout_seconds"],
                  ivr=row["ivr"] or {}, workspace_timezone=(ws["timezone"] if ws else "") or "UTC",
                  offer_callback=row["offer_callback"], workspace_language=(ws["language"] if ws else "") or "")


async def require() -> Config:
    config = await load()
    if config is None:
        raise NotFound("Twilio is not connected yet: an admin saves the account in settings first.")
    return config


async def public_view() -> dict[str, Any]:
    """The configuration as an admin may read it: everything except the Auth Token."""
    row = await TwilioConfig.select().order_by(TwilioConfig.id).first().output(load_json=True)
    devices = await OperatorDevice.select(OperatorDevice.user.as_alias("user_id"), OperatorDevice.user.name.as_alias(
        "user_name"), OperatorDevice.kind, OperatorDevice.address).order_by(OperatorDevice.user)
    slug = current_tenant().slug
    if row is None:
        return {"connected": False, "webhook_urls": webhook_urls(slug), "devices": devices}
    return {"connected": True, "account_sid": row["account_sid"], "auth_token_set": True, "numbers": row["numbers"],
            "record_calls": row["record_calls"], "greeting": row["greeting"], "business_hours": row["business_hours"],
            "timeout_seconds": row["timeout_seconds"], "ivr": row["ivr"], "offer_callback": row["offer_callback"],
            "devices": devices,
            "webhook_urls": webhook_urls(slug), "updated_at": row["updated_at"]}


def _business_hours(value: Any) -> dict[str, Any]:
    if not value:
        return {}
    if not isinstance(value, dict):
        raise Invalid("business_hours must be an object with timezone and days.", field="business_hours")
    tz = value.get("timezone") or "UTC"
    try:
        zoneinfo.ZoneInfo(str(tz))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Invalid("Unknown time zone %(tz)s.", field="business_hours.timezone", tz=repr(tz)) from None
    days: dict[str, list[str]] = {}
    for day, span in (value.get("days") or {}).items():
        if day not in DAYS:
            raise Invalid("Unknown day %(day)s; use %(choices)s.", field=f"business_hours.days.{day}", day=repr(day),
                          choices=', '.join(DAYS))
        if span in (None, [], ""):
            continue
        well_formed = isinstance(span, list) and len(span) == 2 and all(
            isinstance(t, str) and HHMM_RE.match(t) for t in span)
        if not well_formed or span[0] >= span[1]:
            raise Invalid('Opening hours are ["HH:MM", "HH:MM"], opening before closing.',
                          field=f"business_hours.days.{day}")
        days[day] = list(span)
    return {"timezone": str(tz), "days": days}


async def _ivr(value: Any) -> dict[str, str]:
    if not value:
        return {}
    if not isinstance(value, dict):
        raise Invalid("ivr maps a digit to a queue key, e.g. {\"1\": \"sales\"}.", field="ivr")
    keys = {q["key"] for q in await Queue.select(Queue.key).where(Queue.archived == False)}  # noqa: E712
    out: dict[str, str] = {}
    for digit, queue_key in value.items():
        if not re.fullmatch(r"[0-9]", str(digit)):
            raise Invalid("IVR keys are single digits 0-9, not %(digit)s.", field=f"ivr.{digit}", digit=repr(digit))
        if queue_key not in keys:
            raise Invalid("Unknown queue %(queue_key)s.", field=f"ivr.{digit}", queue_key=repr(queue_key))
        out[str(digit)] = str(queue_key)
    return out


def device_kind(address: str, field: str) -> tuple[str, str]:
    address = (address or "").strip()
    if address.startswith("sip:"):
        if not SIP_RE.match(address):
            raise Invalid("%(address)s is not a SIP address like sip:alice@pbx.example.com.", field=field,
                          address=repr(address))
        return "sip", address
    return "number", normalize_phone(address, "US", field=field)


async def save(actor: Principal, data: dict[str, Any]) -> dict[str, Any]:
    """Validate and store the whole configuration; the token may be left out to keep the stored one."""
    current = await TwilioConfig.select(TwilioConfig.id, TwilioConfig.auth_token_enc).first()
    sid = str(data.get("account_sid") or "").strip()
    if not ACCOUNT_SID_RE.match(sid):
        raise Invalid("The Account SID is AC followed by 32 hexadecimal characters.", field="account_sid")
    token = str(data.get("auth_token") or "").strip()
    if not token and current is None:
        raise Invalid("The Auth Token is required.", field="auth_token")
    if token and not AUTH_TOKEN_RE.match(token):
        raise Invalid("The Auth Token is 32 letters and digits (Twilio console, Account info).", field="auth_token")
    raw_numbers = data.get("numbers") or []
    if not isinstance(raw_numbers, list) or not raw_numbers:
        raise Invalid("List at least one Twilio phone number.", field="numbers")
    numbers: list[str] = []
    for i, raw in enumerate(raw_numbers):
        if not str(raw).startswith("+"):
            raise Invalid("Write Twilio numbers in E.164, e.g. +14155550100.", field=f"numbers[{i}]")
        e164 = normalize_phone(str(raw), "US", field=f"numbers[{i}]")
        if e164 not in numbers:
            numbers.append(e164)
    greeting = str(data.get("greeting") or "").strip()
    if len(greeting) > 500:
        raise Invalid("The greeting must be at most 500 characters.", field="greeting")
    timeout = data.get("timeout_seconds", 60)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 5 <= timeout <= 600:
        raise Invalid("timeout_seconds must be a whole number from 5 to 600.", field="timeout_seconds")
    record = data.get("record_calls", False)
    if not isinstance(record, bool):
        raise Invalid("record_calls must be true or false.", field="record_calls")
    offer_callback = data.get("offer_callback", False)
    if not isinstance(offer_callback, bool):
        raise Invalid("offer_callback must be true or false.", field="offer_callback")
    values = {TwilioConfig.account_sid: sid, TwilioConfig.numbers: numbers, TwilioConfig.record_calls: record,
              TwilioConfig.greeting: greeting, TwilioConfig.business_hours: _business_hours(data.get("business_hours")),
              TwilioConfig.timeout_seconds: timeout, TwilioConfig.ivr: await _ivr(data.get("ivr")),
              TwilioConfig.offer_callback: offer_callback, TwilioConfig.updated_at: now()}
    if token:
        values[TwilioConfig.auth_token_enc] = crypto.encrypt(token, purpose=TOKEN_PURPOSE)
    if data.get("devices") is not None:
        await _save_devices(data["devices"])
    await save_single_row(TwilioConfig, values, current["id"] if current else None)
    await audit.record("twilio.configured", actor_id=actor.user_id, actor=actor.label, target_type="channel",
                       target_id="twilio", detail={"token_changed": bool(token), "numbers": numbers,
                                                         "offer_callback": offer_callback})
    return await public_view()


async def _save_devices(devices: Any) -> None:
    if not isinstance(devices, list):
        raise Invalid("devices is a list of {user_id, address}.", field="devices")
    rows = []
    for i, item in enumerate(devices):
        if not isinstance(item, dict) or not isinstance(item.get("user_id"), int):
            raise Invalid("Each device names a user_id and an address.", field=f"devices[{i}]")
        if not await User.exists().where((User.id == item["user_id"]) & (User.status == "active")):
            raise Invalid("No active user %(user_id)s.", field=f"devices[{i}].user_id", user_id=item['user_id'])
        kind, address = device_kind(str(item.get("address") or ""), f"devices[{i}].address")
        rows.append(OperatorDevice(user=item["user_id"], kind=kind, address=address))
    await OperatorDevice.delete(force=True)
    if rows:
        await OperatorDevice.insert(*rows)


async def device_of(user_id: int) -> dict[str, Any]:
    row = await OperatorDevice.select().where(OperatorDevice.user == user_id).first()
    if row is None:
        raise Invalid("You have no phone or SIP device in the Twilio settings; ask an admin to add one.",
                      field="device")
    return row
