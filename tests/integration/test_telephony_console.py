"""Calls from the operator console: Accept bridges through Twilio (undone when Twilio refuses), then hold/resume,
transfer to another operator and back to a queue, and hang up, all through the simulator's REST API."""

from __future__ import annotations

from typing import Any

from app.accounts.tables import User
from app.lib.db import tenant_context
from telephony.simulator import Simulator
from telephony.tables import Call
from tests.conftest import ShopFixture, browser_login, csrf_from
from tests.integration.telephony_kit import CUSTOMER, OPERATOR_PHONE, connect, run_jobs, sim_fixture  # noqa: F401
from tests.integration.test_orders import make_order

SECOND_PHONE = "+14155550177"


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _call_row(shop: ShopFixture, sid: str) -> dict[str, Any]:
    async with tenant_context(shop.tenant):
        row = await Call.select().where(Call.sid == sid).first()
    assert row is not None
    return row


async def _queued_call(client: Any, shop: ShopFixture, sim: Simulator, number: str) -> tuple[Any, int]:
    call = sim.place_call(CUSTOMER, number)
    await sim.until(lambda: call.queue == "general", what="the caller in the queue")
    await run_jobs(shop)
    return call, (await _call_row(shop, call.sid))["conversation"]


async def _console(client: Any, shop: ShopFixture) -> str:
    await browser_login(client, shop.slug, shop.email, shop.password)
    return await csrf_from(client, f"/t/{shop.slug}/console/")


async def _panel(client: Any, shop: ShopFixture, name: str) -> str:
    return (await client.get(f"/t/{shop.slug}/console/panels/{name}", headers={"accept": "text/html"})).text


async def test_console_accept_bridges_the_call_and_shows_the_callers_card(fx_client: Any, fx_shop: ShopFixture,
                                                                          fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    contact = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Carla Caller", "phones": [CUSTOMER]},
                                    headers=fx_shop.auth)).json()
    order = await make_order(fx_client, fx_shop, contact["id"])
    paid = await fx_client.post(api(fx_shop, f"/orders/{order['id']}/payments"),
                                json={"amount": 4200, "method": "card"}, headers=fx_shop.auth)
    assert paid.status_code == 200, paid.text
    call, conversation_id = await _queued_call(fx_client, fx_shop, fx_sim, line.number)
    token = await _console(fx_client, fx_shop)

    queue = await _panel(fx_client, fx_shop, "queue")
    assert 'data-testid="accept"' in queue and f'/contacts/{contact["id"]}' in queue and "Carla Caller" in queue
    assert "lifetime value $42.00 · 1 open order<" in queue

    took = await fx_client.post(f"/t/{fx_shop.slug}/console/take/{conversation_id}", headers={"X-CSRF-Token": token})
    assert "You took the call" in took.text
    leg = await fx_sim.answer(OPERATOR_PHONE)
    # Calls run as Twilio Conferences (issue 14): the caller and the operator's leg are in one started conference.
    await fx_sim.until(lambda: fx_sim.conferences.together(call.sid, leg.sid) is not None, what="the conference")
    row = await _call_row(fx_shop, call.sid)
    assert row["operator"] == fx_shop.user_id
    mine = await _panel(fx_client, fx_shop, "mine")
    assert 'data-testid="hang-up"' in mine and 'data-testid="hold"' in mine and "Carla Caller" in mine


async def test_console_accept_is_undone_when_twilio_refuses(fx_client: Any, fx_shop: ShopFixture,
                                                            fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    call, conversation_id = await _queued_call(fx_client, fx_shop, fx_sim, line.number)
    await fx_sim.hangup(call.sid)  # Twilio knows the caller is gone; our status job has not run yet
    token = await _console(fx_client, fx_shop)
    took = await fx_client.post(f"/t/{fx_shop.slug}/console/take/{conversation_id}", headers={"X-CSRF-Token": token})
    assert "Twilio refused the request" in took.text and "21220" in took.text
    conv = (await fx_client.get(api(fx_shop, f"/conversations/{conversation_id}"), headers=fx_shop.auth)).json()
    assert conv["status"] == "waiting" and conv["assigned_to_id"] is None
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{conv['contact_id']}/timeline"),
                                    headers=fx_shop.auth)).json()["items"]
    assert not any("took the call" in i["summary"] for i in timeline)
    assert (await _call_row(fx_shop, call.sid))["operator"] is None


async def test_hold_resume_transfer_and_hang_up_from_the_console(fx_client: Any, fx_shop: ShopFixture,
                                                                 fx_sim: Simulator) -> None:
    async with tenant_context(fx_shop.tenant):
        rows = await User.insert(User(email=f"second@{fx_shop.slug}.example", name="Second Operator",
                                      role="operator")).returning(User.id)
    second = rows[0]["id"]
    line = await connect(fx_client, fx_shop, fx_sim, devices=[{"user_id": fx_shop.user_id, "address": OPERATOR_PHONE},
                                                              {"user_id": second, "address": SECOND_PHONE}])
    call, conversation_id = await _queued_call(fx_client, fx_shop, fx_sim, line.number)
    token = await _console(fx_client, fx_shop)
    headers = {"X-CSRF-Token": token}
    base = f"/t/{fx_shop.slug}/console/calls/{conversation_id}"
    await fx_client.post(f"/t/{fx_shop.slug}/console/take/{conversation_id}", headers=headers)
    first_leg = await fx_sim.answer(OPERATOR_PHONE)

    held = await fx_client.post(f"{base}/hold", data={"on": "1"}, headers=headers)
    assert "on hold" in held.text
    # Conference hold (issue 14): the caller hears the hold music, the operator stays on the line.
    await fx_sim.until(lambda: call.held, what="the caller on hold music")
    assert call.heard[-1] == f"[play http://testserver.local{'/telephony/hold-music.wav'}]"
    assert first_leg.status == "in-progress"
    assert 'data-testid="resume"' in await _panel(fx_client, fx_shop, "mine")

    resumed = await fx_client.post(f"{base}/hold", data={"on": "0"}, headers=headers)
    assert "Resumed" in resumed.text
    await fx_sim.until(lambda: not call.held, what="the caller off hold")
    assert fx_sim.conferences.together(call.sid, first_leg.sid) is not None

    moved = await fx_client.post(f"{base}/transfer", data={"target": f"user:{second}"}, headers=headers)
    assert "Transferred" in moved.text, moved.text
    second_leg = await fx_sim.answer(SECOND_PHONE)
    await fx_sim.until(lambda: fx_sim.conferences.together(call.sid, second_leg.sid) is not None
                       and first_leg.status == "completed", what="the caller with the second operator only")
    conv = (await fx_client.get(api(fx_shop, f"/conversations/{conversation_id}"), headers=fx_shop.auth)).json()
    assert conv["assigned_to_id"] == second
    # The owner is an admin (a supervisor too): they may move it on, back into the queue.
    back = await fx_client.post(f"{base}/transfer", data={"target": "queue:general"}, headers=headers)
    assert "Transferred" in back.text, back.text
    await fx_sim.until(lambda: call.queue == "general" and second_leg.status == "completed",
                       what="the caller back in the queue")
    conv = (await fx_client.get(api(fx_shop, f"/conversations/{conversation_id}"), headers=fx_shop.auth)).json()
    assert conv["status"] == "waiting"

    await fx_client.post(f"/t/{fx_shop.slug}/console/take/{conversation_id}", headers=headers)
    await fx_sim.answer(OPERATOR_PHONE)
    fx_sim.clock.advance(10)
    ended = await fx_client.post(f"{base}/hangup", headers=headers)
    assert "Call ended" in ended.text
    await fx_sim.until(lambda: call.status == "completed", what="the call to end")
    await fx_sim.settle()
    await run_jobs(fx_shop)
    row = await _call_row(fx_shop, call.sid)
    assert row["status"] == "completed" and row["outcome"] == "answered" and not row["on_hold"]
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{conv['contact_id']}/timeline"),
                                    headers=fx_shop.auth)).json()["items"]
    summaries = [i["summary"] for i in timeline]
    for expected in ("put the caller on hold", "resumed the call", "Transferred to Second Operator",
                     "Transferred to queue", "hung up"):
        assert any(expected in s for s in summaries), (expected, summaries)
    assert any(s.startswith("Call recording") for s in summaries), summaries
    assert "Call ended." in (await _panel(fx_client, fx_shop, "mine")) or "completed" in await _panel(
        fx_client, fx_shop, "mine")
