"""CSRF sweep: every unsafe route of the app (from its route table, so a new route is covered the day it is added),
sent by a signed-in browser without a CSRF token, is refused with 403 and writes nothing: no row in any table of
the shop's schema or of `public` (audit log, sessions, job queue included). The routes exempt from CSRF are pinned
here: adding or removing one fails this test until the list says so."""

from __future__ import annotations

from typing import Any

from tests.conftest import ShopFixture
from tests.integration.sweep_kit import browser_cookies, changed, fill, session_of, snapshot, unsafe_handlers

TWILIO_HOOKS = ("announce", "callback", "closed-callback", "conference", "dial-action", "enqueue-action", "gather",
                "offer-answer", "participant-status", "recording", "sms", "sms-status", "status", "voice",
                "voice-fallback", "voicemail", "wait")
EXEMPT = {
    # Signed by Twilio (X-Twilio-Signature), no cookies involved.
    *(("POST", f"/t/{{slug:str}}/webhooks/twilio/{name}") for name in TWILIO_HOOKS),
    # The chat widget on the shop's own site: a token in a header the page must set, no cookies.
    *(("POST", f"/t/{{slug:str}}/chat/{name}") for name in ("contact", "read", "sessions", "messages", "typing")),
    # JSON signup: no session exists yet, and a cross-site form cannot send JSON.
    ("POST", "/api/v1/signup"),
    # RFC 8058 one-click unsubscribe: the mail client POSTs without cookies; the signed token is the credential, and
    # all it can do is opt its own address out (tests/integration/test_consent_keywords.py).
    ("POST", "/t/{slug:str}/unsubscribe/{token:str}"),
}


async def test_every_unsafe_route_refuses_a_session_without_csrf_token_and_writes_nothing(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    app = fx_client._transport.app
    exempt = {(method, path) for method, path, handler in unsafe_handlers(app) if handler.opt.get("csrf_exempt")}
    assert exempt == EXEMPT, f"exempt from CSRF now: {sorted(exempt ^ EXEMPT)}"
    session = await session_of(fx_shop, "owner")
    cookies = browser_cookies(session)
    before = await snapshot(fx_shop)
    checked = 0
    for method, path, handler in unsafe_handlers(app):
        if handler.opt.get("csrf_exempt"):
            continue
        url = fill(path, fx_shop.slug)
        as_json = await fx_client.request(method, url, json={"name": "x"},
                                          headers={"cookie": cookies, "accept": "application/json"})
        as_form = await fx_client.request(method, url, data={"name": "x"},
                                          headers={"cookie": cookies, "accept": "text/html"})
        wrong = await fx_client.request(method, url, json={"name": "x"},
                                        headers={"cookie": cookies, "x-csrf-token": "0" * 64})
        for answer in (as_json, as_form, wrong):
            assert answer.status_code == 403, (method, path, answer.status_code, answer.text[:200])
        assert "CSRF" in as_json.json()["detail"], (method, path, as_json.text[:200])
        checked += 1
    assert checked > 200
    assert changed(before, await snapshot(fx_shop)) == {}
