"""A `switchboard worker` killed (SIGKILL) in the middle of an SMS campaign: another worker finishes it, and the
Twilio simulator received exactly one message per recipient (whatever the kill interrupted: a claim, a call to
Twilio, the commit that records it)."""

from __future__ import annotations

import collections
import signal
from typing import Any

import pytest

from app.lib.db import current_uow, tenant_context
from telephony import client as twilio_client
from telephony.simulator import Simulator
from tests.conftest import ShopFixture
from tests.integration.campaign_kit import create, read, recipients, segment, send, sms_body, texts
from tests.integration.telephony_kit import connect, sim_fixture  # noqa: F401
from tests.integration.test_faults_worker import Cli, processes, until

pytestmark = pytest.mark.xdist_group("faults")
AUDIENCE = 300


async def _contacts(shop: ShopFixture, n: int) -> list[int]:
    async with tenant_context(shop.tenant):
        conn = current_uow().connection
        ids = [r["id"] for r in await conn.fetch(
            "INSERT INTO contact (name) SELECT 'Client ' || g FROM generate_series(1, $1) g RETURNING id", n)]
        await conn.executemany("INSERT INTO contact_phone (contact, e164) VALUES ($1, $2)",
                               [(cid, f"+1415600{i:04d}") for i, cid in enumerate(ids)])
    return ids


async def test_worker_killed_mid_campaign_nobody_gets_it_twice(fx_client: Any, fx_shop: ShopFixture,
                                                                fx_sim: Simulator) -> None:
    await connect(fx_client, fx_shop, fx_sim)
    ids = await _contacts(fx_shop, AUDIENCE)
    c = await create(fx_client, fx_shop, {**sms_body("Hi {{ contact.first_name }}"),
                                          "segment_id": await segment(fx_shop, ids), "holdout_percent": 10})
    await send(fx_client, fx_shop, c["id"])
    env = {"TWILIO_API_BASE": twilio_client.api_base()}

    async def some_sent() -> bool:
        return len(texts(fx_sim)) >= 20

    first = Cli("worker", env=env)
    async with processes(first):
        await until("the first worker sends some of the campaign", some_sent, first)
        first.proc.send_signal(signal.SIGKILL)
        assert await first.exited() == -signal.SIGKILL
    killed_at = len(texts(fx_sim))
    assert (await read(fx_client, fx_shop, c["id"]))["status"] == "sending"

    async def done() -> bool:
        return (await read(fx_client, fx_shop, c["id"]))["status"] == "done"

    second = Cli("worker", env=env)
    async with processes(second):
        await until("a second worker finishes the campaign", done, second)

    rows = await recipients(fx_client, fx_shop, c["id"])
    held = [r for r in rows if r["holdout"]]
    sent = [r for r in rows if not r["holdout"]]
    assert len(rows) == AUDIENCE and {r["status"] for r in sent} <= {"sent", "delivered"}
    per_number = collections.Counter(m.to for m in texts(fx_sim))
    assert sorted(per_number.values()) == [1] * len(sent), "somebody got the campaign twice (or not at all)"
    assert set(per_number) == {r["address"] for r in sent}
    assert not {r["address"] for r in held} & set(per_number)
    assert killed_at < len(sent), "the campaign finished before the kill: raise AUDIENCE"
    async with tenant_context(fx_shop.tenant):
        recorded = await current_uow().connection.fetchval(
            "SELECT count(DISTINCT sid) FROM sms_message WHERE id IN (SELECT sms_message_id FROM campaign_recipient "
            "WHERE campaign = $1)", c["id"])
    assert recorded == len(sent)
