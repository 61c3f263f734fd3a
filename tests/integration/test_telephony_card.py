"""The card's phone panel: an operator calls the contact (their own phone rings first) and texts them from the card;
the SMS's delivery status follows Twilio's callbacks onto every open card without a reload."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from telephony.simulator import Simulator
from tests.conftest import ShopFixture, browser_login, csrf_from
from tests.integration.telephony_kit import OPERATOR_PHONE, connect, run_jobs, sim_fixture  # noqa: F401
from tests.integration.test_console import _console, _session
from tests.servers import InProcessServer

PHONE = "+14155550177"


@pytest.mark.xdist_group("realtime")
async def test_card_calls_and_texts_the_contact_with_live_delivery_status(
        fx_live: InProcessServer, fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    contact = (await fx_client.post(f"/t/{fx_shop.slug}/api/v1/contacts", json={"name": "Cleo", "phones": [PHONE]},
                                    headers=fx_shop.auth)).json()
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    card_url = f"/t/{fx_shop.slug}/contacts/{contact['id']}"
    panel_url = f"{card_url}/phone"
    card = await fx_client.get(card_url, headers={"accept": "text/html"})
    assert f'hx-get="{panel_url}"' in card.text
    before = await fx_client.get(panel_url, headers={"accept": "text/html", "HX-Request": "true"})
    assert before.status_code == 200 and "Connect Twilio" in before.text and "send-sms" not in before.text

    await connect(fx_client, fx_shop, fx_sim)
    panel = await fx_client.get(panel_url, headers={"accept": "text/html", "HX-Request": "true"})
    assert 'data-testid="click-to-call"' in panel.text and 'data-testid="send-sms"' in panel.text
    token = await csrf_from(fx_client, card_url)
    htmx = {"X-CSRF-Token": token, "HX-Request": "true", "accept": "text/html"}

    empty = await fx_client.post(f"{panel_url}/sms", data={"body": "  "}, headers=htmx)
    assert empty.status_code == 400 and "empty" in empty.text and 'data-testid="error"' in empty.text
    viewer = await _console(fx_live, fx_shop, await _session(fx_shop, "operator"))
    await viewer.send({"watch": f"contact:{contact['id']}"})
    await asyncio.sleep(0.2)
    sent = await fx_client.post(f"{panel_url}/sms", data={"body": "Your parcel left today"}, headers=htmx)
    assert sent.status_code == 200 and "SMS sent" in sent.text, sent.text
    [msg] = [m for m in fx_sim.messages.values() if m.to == PHONE]
    assert msg.body == "Your parcel left today"
    frames = await viewer.until(lambda f: f.event == "interaction.created")
    assert 'data-testid="sms-status" data-status="queued"' in frames[-1].text
    await fx_sim.settle()
    await run_jobs(fx_shop)
    frames = await viewer.until(lambda f: f.event == "message.status_changed" and 'data-status="delivered"' in f.text)
    assert "Your parcel left today" in frames[-1].text and 'id="timeline-items"' in frames[-1].text
    await viewer.close()

    called = await fx_client.post(f"{panel_url}/call", data={}, headers=htmx)
    assert called.status_code == 200 and "Your phone rings" in called.text, called.text
    operator_leg = await fx_sim.answer(OPERATOR_PHONE)
    await fx_sim.settle()
    await run_jobs(fx_shop)  # the operator's join (conference callback) adds the customer
    customer_leg = await fx_sim.answer(PHONE)
    await fx_sim.until(lambda: fx_sim.conferences.together(customer_leg.sid, operator_leg.sid) is not None,
                       what="the conference")
