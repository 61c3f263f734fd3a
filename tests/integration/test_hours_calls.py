"""A call to a queue whose calendar is closed goes to voicemail with the closed greeting (through the Twilio
simulator), and the voicemail's callback task waits in that queue; an open queue still takes the call."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.lib.db import tenant_context
from telephony.simulator import Simulator
from telephony.tables import Call
from tests.conftest import ShopFixture
from tests.integration.telephony_kit import CUSTOMER, connect, run_jobs, sim_fixture  # noqa: F401
from tests.integration.test_hours_api import api

SOON_CLOSED = [{"weekday": (dt.datetime.now(dt.UTC).weekday() + 3) % 7, "opens": "12:00", "closes": "13:00"}]
"""Open one hour, three days from now (UTC): closed whenever the test runs."""


async def _call_row(shop: ShopFixture, sid: str) -> dict[str, Any]:
    async with tenant_context(shop.tenant):
        row = await Call.select().where(Call.sid == sid).first()
    assert row is not None
    return row


async def _closed_queue(client: Any, shop: ShopFixture, key: str, **setting: Any) -> None:
    cal = await client.post(api(shop, "/calendars"), json={"name": f"Closed {key}", "zone": "UTC",
                                                          "weekly": SOON_CLOSED}, headers=shop.auth)
    assert cal.status_code == 201, cal.text
    queue_id = next(q["id"] for q in (await client.get(api(shop, "/queues"), headers=shop.auth)).json()
                    if q["key"] == key)
    linked = await client.put(api(shop, f"/queue-hours/{queue_id}"), json={"calendar_id": cal.json()["id"], **setting},
                              headers=shop.auth)
    assert linked.status_code == 200, linked.text


async def test_call_to_a_closed_queue_goes_to_voicemail(fx_client: Any, fx_shop: ShopFixture,
                                                        fx_sim: Simulator) -> None:
    await _closed_queue(fx_client, fx_shop, "general", outside_hours_call="voicemail")
    line = await connect(fx_client, fx_shop, fx_sim)
    call = fx_sim.place_call(CUSTOMER, line.number, message_seconds=4)
    await fx_sim.until(lambda: call.current == "Record", what="the voicemail prompt")
    fx_sim.clock.advance(5)
    await fx_sim.until(lambda: call.status == "completed", what="the voicemail call to end")
    assert "Enqueue" not in call.verbs and "Record" in call.verbs and "Gather" not in call.verbs
    assert any("closed" in h and "open again" in h and "12:00" in h for h in call.heard), call.heard
    await fx_sim.settle()
    await run_jobs(fx_shop)
    row = await _call_row(fx_shop, call.sid)
    assert row["outcome"] == "voicemail" and row["queue_key"] == "general" and row["conversation"] is not None
    waiting = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=fx_shop.auth)).json()
    assert any(w["id"] == row["conversation"] and w["queue_key"] == "general" for w in waiting)


async def test_menu_choice_of_a_closed_queue_goes_to_voicemail(fx_client: Any, fx_shop: ShopFixture,
                                                               fx_sim: Simulator) -> None:
    await fx_client.post(api(fx_shop, "/queues"), json={"key": "sales", "name": "Sales"}, headers=fx_shop.auth)
    await fx_client.post(api(fx_shop, "/queues"), json={"key": "repairs", "name": "Repairs"}, headers=fx_shop.auth)
    await _closed_queue(fx_client, fx_shop, "repairs")
    line = await connect(fx_client, fx_shop, fx_sim, ivr={"1": "sales", "2": "repairs"})
    open_call = fx_sim.place_call(CUSTOMER, line.number)
    await fx_sim.press(open_call.sid, "1")
    await fx_sim.until(lambda: open_call.queue == "sales", what="the caller in the open sales queue")
    closed_call = fx_sim.place_call("+14155550188", line.number, message_seconds=3)
    await fx_sim.press(closed_call.sid, "2")
    await fx_sim.until(lambda: closed_call.current == "Record", what="the voicemail prompt of the closed queue")
    assert closed_call.queue is None and "Enqueue" not in closed_call.verbs
    fx_sim.clock.advance(4)
    await fx_sim.until(lambda: closed_call.status == "completed", what="the voicemail call to end")
    await fx_sim.hangup(open_call.sid)
    await fx_sim.settle()
    await run_jobs(fx_shop)
    row = await _call_row(fx_shop, closed_call.sid)
    assert row["outcome"] == "voicemail" and row["queue_key"] == "repairs"
