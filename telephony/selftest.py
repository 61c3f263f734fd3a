"""The settings page's "test": prove the saved account with Twilio's API and our voice webhook with a signed request."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from app.lib.db import current_tenant
from telephony import client
from telephony import config as config_service
from telephony.client import TwilioUnavailable

_transport: httpx.AsyncBaseTransport | None = None


def use_transport(transport: httpx.AsyncBaseTransport | None) -> None:
    """Where the signed test request goes (tests hand in the app's ASGI transport); None: real HTTP to BASE_URL."""
    global _transport
    _transport = transport


async def run() -> dict[str, Any]:
    config = await config_service.require()
    checks: list[dict[str, Any]] = []
    try:
        account = await client.call(config, lambda c: c.api.v2010.accounts(config.account_sid).fetch())
        checks.append({"check": "credentials", "ok": True,
                       "detail": f"Twilio accepted the Account SID and Auth Token ({account.friendly_name})."})
    except TwilioUnavailable as exc:
        checks.append({"check": "credentials", "ok": False, "detail": exc.detail})
    url = config_service.webhook_urls(current_tenant().slug)["voice"]
    params = {"CallSid": "CA" + secrets.token_hex(16), "AccountSid": config.account_sid, "From": config.numbers[0],
              "To": config.numbers[0], "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01",
              "SwitchboardTest": "1"}
    signature = RequestValidator(config.auth_token).compute_signature(url, params)
    try:
        async with httpx.AsyncClient(transport=_transport, timeout=10) as http:
            answer = await http.post(url, data=params, headers={"X-Twilio-Signature": signature})
        ok = answer.status_code == 200 and "<Response>" in answer.text
        checks.append({"check": "voice webhook", "ok": ok,
                       "detail": f"{url} answered {answer.status_code}" + (" with TwiML" if ok else "")})
    except httpx.HTTPError as exc:
        checks.append({"check": "voice webhook", "ok": False, "detail": f"{url} unreachable: {exc.__class__.__name__}"})
    return {"ok": all(c["ok"] for c in checks), "checks": checks}
