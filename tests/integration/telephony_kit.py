"""Shared pieces of the telephony tests: a running simulator wired to the app, a configured shop, the job drain."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.lib.db import raw_connect
from telephony import client as twilio_client
from telephony.jobs import process_webhook
from telephony.simulator import Simulator, create_app
from tests.conftest import TEST_DSN, ShopFixture
from tests.servers import InProcessServer

BASE = "http://testserver.local"
OPERATOR_PHONE = "+14155550123"
CUSTOMER = "+14155550199"


@dataclass
class Line:
    """A shop connected to the simulated Twilio account."""

    shop: ShopFixture
    account_sid: str
    token: str
    number: str

    def url(self, name: str) -> str:
        return f"{BASE}/t/{self.shop.slug}/webhooks/twilio/{name}"


@pytest.fixture(name="fx_sim")
async def sim_fixture(fx_app: Any) -> AsyncIterator[Simulator]:
    """The simulator: its webhooks reach the app in this loop; its REST API listens on a loopback port."""
    webhooks = httpx.AsyncClient(transport=httpx.ASGITransport(app=fx_app, client=("127.0.0.1", 40001)),
                                 base_url=BASE, timeout=15)
    sim = Simulator(webhooks=webhooks)
    server = await InProcessServer(create_app(sim)).start()
    twilio_client.use_api_base(server.url)
    try:
        yield sim
    finally:
        twilio_client.use_api_base(None)
        await sim.close()
        await server.stop()


async def connect(client: Any, shop: ShopFixture, sim: Simulator, **config: Any) -> Line:
    """Create a Twilio account and number in the simulator and save them in the shop's settings."""
    token = secrets.token_hex(16)
    acct = sim.add_account(auth_token=token)
    number = "+1415555" + f"{secrets.randbelow(9000) + 1000}"
    line = Line(shop, acct.sid, token, number)
    sim.add_number(acct.sid, number, voice_url=line.url("voice"), status_callback=line.url("status"),
                   sms_url=line.url("sms"))
    body = {"account_sid": acct.sid, "auth_token": token, "numbers": [number], "record_calls": True,
            "devices": [{"user_id": shop.user_id, "address": OPERATOR_PHONE}], **config}
    saved = await client.put(f"/t/{shop.slug}/api/v1/channels/twilio", json=body, headers=shop.auth)
    assert saved.status_code == 200, saved.text
    return line


async def run_jobs(shop: ShopFixture) -> int:
    """Run the shop's queued webhook jobs in order, as the worker would (taking them off the queue)."""
    ran = 0
    conn = await raw_connect(TEST_DSN)
    try:
        while True:
            rows = await conn.fetch(
                "DELETE FROM public.pgqueuer WHERE id IN (SELECT id FROM public.pgqueuer WHERE entrypoint = "
                "'telephony.process_webhook' AND convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1 "
                "ORDER BY id FOR UPDATE SKIP LOCKED) RETURNING id, payload", shop.slug)
            if not rows:
                return ran
            for row in sorted(rows, key=lambda r: r["id"]):
                await process_webhook(json.loads(row["payload"]))
                ran += 1
    finally:
        await conn.close()


async def webhooks(shop: ShopFixture, kind: str | None = None) -> list[dict[str, Any]]:
    from app.lib.db import tenant_context
    from telephony.tables import TwilioWebhook

    async with tenant_context(shop.tenant):
        query = TwilioWebhook.select().order_by(TwilioWebhook.id).output(load_json=True)
        if kind:
            query = query.where(TwilioWebhook.kind == kind)
        return await query
