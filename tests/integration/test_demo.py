"""The demo `switchboard run` sets up: the shop, its simulated Twilio line, and its web chat on the simulator's
/shop page (another origin, like a real shop website)."""

from __future__ import annotations

from typing import Any

import httpx

from app import demo
from app.chat.tables import ChatSettings
from app.lib.db import tenant_context
from telephony.simulator.serve import build
from telephony.tables import OperatorDevice, TwilioConfig
from tenants import services as tenants

SIM_ORIGIN = "http://127.0.0.1:8010"


async def test_demo_shop_chat_runs_on_the_simulated_shop_site(fx_client: Any) -> None:
    await demo.ensure_demo()
    assert await demo.ensure_demo_telephony() is True
    assert await demo.ensure_demo_telephony() is False
    assert await demo.ensure_demo_chat(SIM_ORIGIN) is True
    assert await demo.ensure_demo_chat("https://other.example") is False  # once: later admin changes are kept
    tenant = await tenants.resolve_active(demo.DEMO_SLUG)
    assert tenant is not None
    async with tenant_context(tenant):
        line = await TwilioConfig.select(TwilioConfig.numbers).output(load_json=True).first()
        assert line["numbers"] == [demo.DEMO_NUMBER] and await OperatorDevice.count() == 3
        row = await ChatSettings.select(ChatSettings.allowed_origins).output(load_json=True).first()
    assert row["allowed_origins"] == [SIM_ORIGIN]

    # The site's visitor opens a chat: allowed from the simulator's origin, refused from any other.
    ok = await fx_client.post("/t/demo/chat/sessions", json={}, headers={"Origin": SIM_ORIGIN})
    assert ok.status_code == 201, ok.text
    other = await fx_client.post("/t/demo/chat/sessions", json={}, headers={"Origin": "http://127.0.0.1:9999"})
    assert other.status_code == 403

    widget = "http://127.0.0.1:8000/t/demo/widget.js"
    _, sim_app = build(account_sid=demo.DEMO_TWILIO_SID, auth_token=demo.DEMO_TWILIO_TOKEN, number=demo.DEMO_NUMBER,
                       webhook_base="http://127.0.0.1:8000/t/demo/webhooks/twilio", shop_widget=widget)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim_app), base_url=SIM_ORIGIN) as sim:
        page = await sim.get("/shop")
        assert page.status_code == 200 and f'<script src="{widget}" async></script>' in page.text
        assert 'href="/shop"' in (await sim.get("/")).text
