"""The Twilio REST client per tenant, with an HTTP client that sends api.twilio.com traffic to TWILIO_API_BASE."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from app.lib.errors import DomainError
from app.settings import get_settings
from telephony.config import Config

TWILIO_API = "https://api.twilio.com"
T = TypeVar("T")
_api_base_override: str | None = None


class TwilioUnavailable(DomainError):
    """Twilio (or the simulator) refused or failed a request; the operator's action did not happen."""

    status_code = 502


def api_base() -> str:
    return _api_base_override or get_settings().app.twilio_api_base


def use_api_base(url: str | None) -> None:
    """Point every client built from now on at `url` (tests start a simulator on a free port); None: the setting."""
    global _api_base_override
    _api_base_override = url.rstrip("/") if url else None


class RoutedHttpClient(TwilioHttpClient):
    """Rewrites https://api.twilio.com to `base`, and refuses any other host: we only ever talk to Twilio's API."""

    def __init__(self, base: str, timeout: float = 10.0) -> None:
        super().__init__(timeout=timeout)
        self.base = base.rstrip("/")

    def route(self, url: str) -> str:
        if not url.startswith(TWILIO_API + "/"):
            raise ValueError(f"refusing a Twilio request to a host that is not {TWILIO_API}")
        return self.base + url[len(TWILIO_API):]

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        return super().request(method, self.route(url), *args, **kwargs)


def client_for(config: Config) -> Client:
    return Client(config.account_sid, config.auth_token, http_client=RoutedHttpClient(api_base()))


async def call(config: Config, fn: Callable[[Client], T]) -> T:
    """Run one blocking Twilio request off the event loop; Twilio errors become a 502 naming Twilio's message."""
    client = client_for(config)

    def run() -> T:
        try:
            return fn(client)
        finally:  # one client per unit of work: close its keep-alive connections
            session = getattr(client.http_client, "session", None)
            if session is not None:
                session.close()

    try:
        return await asyncio.to_thread(run)
    except TwilioRestException as exc:
        raise TwilioUnavailable(f"Twilio refused the request: {exc.msg} (code {exc.code}).",
                                extra={"twilio_code": exc.code}) from None
    except (TwilioException, OSError) as exc:
        raise TwilioUnavailable(f"Twilio could not be reached: {exc.__class__.__name__}.") from None


async def download(config: Config, media_url: str) -> tuple[bytes, str]:
    """Fetch recording media with the account's credentials (only from Twilio's API host): bytes, content type.
    twilio's Response keeps only text, so the media goes through the same routed session as raw bytes."""
    http = RoutedHttpClient(api_base(), timeout=30)

    def run() -> tuple[int, bytes, str]:
        session = http.session or requests.Session()
        try:
            r = session.get(http.route(media_url), auth=(config.account_sid, config.auth_token), timeout=30)
            return r.status_code, r.content, r.headers.get("content-type", "")
        finally:
            session.close()

    try:
        status, body, ctype = await asyncio.to_thread(run)
    except (OSError, requests.RequestException) as exc:
        raise TwilioUnavailable(f"Twilio could not be reached: {exc.__class__.__name__}.") from None
    if status != 200:
        raise TwilioUnavailable(f"Twilio answered {status} for the recording media.")
    return body, ctype
