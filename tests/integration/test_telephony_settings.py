"""Twilio settings: admin only, token encrypted and never returned, field-named errors, webhook URLs, the test."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from app.lib.db import tenant_context
from telephony import selftest
from telephony.simulator import Simulator
from telephony.tables import TwilioConfig
from tests.conftest import ShopFixture, browser_login, csrf_from
from tests.integration.telephony_kit import connect, sim_fixture  # noqa: F401


async def test_settings_store_the_token_encrypted_and_never_return_it(fx_client: Any, fx_shop: ShopFixture,
                                                                     fx_sim: Simulator) -> None:
    url = f"/t/{fx_shop.slug}/api/v1/channels/twilio"
    sid = "AC" + secrets.token_hex(16)
    for body, field in (({"account_sid": "nope"}, "account_sid"),
                        ({"account_sid": sid, "auth_token": "short", "numbers": ["+14155550100"]}, "auth_token"),
                        ({"account_sid": sid, "auth_token": secrets.token_hex(16), "numbers": ["4155550100"]},
                         "numbers[0]"),
                        ({"account_sid": sid, "auth_token": secrets.token_hex(16), "numbers": ["+14155550100"],
                          "ivr": {"1": "nosuchqueue"}}, "ivr.1"),
                        ({"account_sid": sid, "numbers": "+14155550100"}, "numbers"),
                        ({"account_sid": sid, "numbers": ["+14155550100"], "record_calls": "yes"}, "record_calls"),
                        ({"account_sid": sid, "numbers": ["+14155550100"], "devices": [{"user_id": "me"}]},
                         "devices[0].user_id"),
                        ({"account_sid": sid, "numbers": ["+14155550100"], "colour": "blue"}, "colour")):
        bad = await fx_client.put(url, json=body, headers=fx_shop.auth)
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == field, bad.text
    line = await connect(fx_client, fx_shop, fx_sim)
    shown = await fx_client.get(url, headers=fx_shop.auth)
    assert shown.status_code == 200 and line.token not in shown.text and "auth_token\"" not in shown.text
    assert shown.json()["webhook_urls"]["voice"] == f"http://testserver.local/t/{fx_shop.slug}/webhooks/twilio/voice"
    async with tenant_context(fx_shop.tenant):
        stored = await TwilioConfig.select(TwilioConfig.auth_token_enc).first()
    assert line.token not in stored["auth_token_enc"]
    anonymous = await fx_client.get(url)
    assert anonymous.status_code == 401

    selftest.use_transport(httpx.ASGITransport(app=fx_client._transport.app))
    try:
        result = (await fx_client.post(url + "/test", headers=fx_shop.auth)).json()
    finally:
        selftest.use_transport(None)
    assert result["ok"], result
    assert [c["check"] for c in result["checks"]] == ["credentials", "voice webhook"]


async def test_settings_page_saves_and_shows_webhook_urls(fx_client: Any, fx_shop: ShopFixture) -> None:
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = f"/t/{fx_shop.slug}/settings/twilio/"
    token = await csrf_from(fx_client, page)
    form = {"_csrf": token, "account_sid": "AC" + secrets.token_hex(16), "auth_token": secrets.token_hex(16),
            "numbers": "+14155550100", "record_calls": "on", "greeting": "Hi", "timeout_seconds": "40", "ivr": "",
            "business_hours": "", "devices": f"{fx_shop.user_id}=sip:owner@pbx.example.com"}
    saved = await fx_client.post(page, data=form, headers={"accept": "text/html"})
    assert saved.status_code == 200 and "Saved" in saved.text and "/webhooks/twilio/voice" in saved.text
    assert form["auth_token"] not in saved.text
    bad = await fx_client.post(page, data={**form, "numbers": "not a number"}, headers={"accept": "text/html"})
    assert bad.status_code == 400 and "numbers[0]" in bad.text
