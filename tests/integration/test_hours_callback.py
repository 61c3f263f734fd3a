"""Outside hours, a queue set to offer a callback: the closed greeting offers "press 1 to be called back when we open"
(through the Twilio simulator). Pressing 1 opens the call's item in that queue as a callback (the number, when
asked), texts the customer and ends the call without a voicemail; silence leaves a voicemail as before; another
tenant's signature marks nothing."""

from __future__ import annotations

from typing import Any

from twilio.request_validator import RequestValidator

from app.lib.db import tenant_context
from telephony.simulator import Simulator
from telephony.simulator.core import Call as SimCall
from tests.conftest import ShopFixture
from tests.integration.telephony_kit import (  # noqa: F401
    CUSTOMER,
    OPERATOR_PHONE,
    Line,
    connect,
    run_jobs,
    sim_fixture,
    webhooks,
)
from tests.integration.test_hours_api import api
from tests.integration.test_hours_calls import _call_row, _closed_queue
from tests.integration.test_orders import make_contact


async def _offered(sim: Simulator, line: Line, number: str, **kw: Any) -> SimCall:
    call = sim.place_call(number, line.number, **kw)
    await sim.until(lambda: call.current == "Gather", what="the closed greeting's callback offer")
    return call


async def _waiting_calls(client: Any, shop: ShopFixture) -> list[dict[str, Any]]:
    resp = await client.get(api(shop, "/conversations/waiting"), headers=shop.auth)
    assert resp.status_code == 200, resp.text
    return [w for w in resp.json() if w["channel"] == "call"]


async def test_press_one_when_closed_queues_a_callback_texts_and_records_no_voicemail(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    await _closed_queue(fx_client, fx_shop, "general", outside_hours_call="callback")
    line = await connect(fx_client, fx_shop, fx_sim)
    buyer = await make_contact(fx_client, fx_shop, "Nina Night", phones=[CUSTOMER])
    call = await _offered(fx_sim, line, CUSTOMER, message_seconds=4)
    assert any("closed" in h and "12:00" in h for h in call.heard), call.heard
    assert any("Press 1 to be called back when we open" in h for h in call.heard), call.heard
    await fx_sim.press(call.sid, "1")
    await fx_sim.until(lambda: call.status == "completed", what="the caller to hang up after pressing 1")
    assert any("We will call you back when we open" in h for h in call.heard), call.heard
    assert "Record" not in call.verbs and "Enqueue" not in call.verbs
    await fx_sim.settle()
    await run_jobs(fx_shop)

    row = await _call_row(fx_shop, call.sid)
    assert row["outcome"] == "callback" and row["queue_key"] == "general" and row["recording_sid"] == ""
    items = await _waiting_calls(fx_client, fx_shop)
    assert len(items) == 1 and items[0]["id"] == row["conversation"]
    item = items[0]
    assert item["queue_key"] == "general" and item["status"] == "waiting" and item["contact_id"] == buyer["id"]
    assert item["callback_number"] == CUSTOMER and item["callback_requested_at"] is not None
    texts = [m for m in fx_sim.messages.values() if m.to == CUSTOMER and m.direction == "outbound-api"]
    assert len(texts) == 1 and "call you back" in texts[0].body
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{buyer['id']}/timeline"),
                                    headers=fx_shop.auth)).json()["items"]
    events = [i["payload"].get("event") for i in timeline]
    assert "callback_requested" in events and "voicemail" not in events
    assert not any(i["payload"].get("outcome") in ("abandoned", "voicemail") for i in timeline)
    assert await webhooks(fx_shop, "voicemail") == []

    # Twilio delivers the digit again: nothing more is stored, queued or texted.
    digit = next(w for w in fx_sim.webhook_log if "/closed-callback" in w["url"])
    again = await fx_sim.post(line.account_sid, digit["url"], digit["params"])
    assert again.status_code == 200 and "<Hangup" in again.text
    await run_jobs(fx_shop)
    assert len(await webhooks(fx_shop, "callback")) == 1 and len(await _waiting_calls(fx_client, fx_shop)) == 1
    assert len([m for m in fx_sim.messages.values() if m.to == CUSTOMER]) == 1

    # Taken like a queue callback: the operator's phone rings, then the customer's.
    accepted = await fx_client.post(api(fx_shop, f"/calls/{item['id']}/accept"), headers=fx_shop.auth)
    assert accepted.status_code == 200, accepted.text
    operator_leg = await fx_sim.answer(OPERATOR_PHONE)
    await fx_sim.settle()
    await run_jobs(fx_shop)
    customer_leg = await fx_sim.answer(CUSTOMER)
    await fx_sim.until(lambda: fx_sim.conferences.together(customer_leg.sid, operator_leg.sid) is not None,
                       what="the operator and the customer together")
    await fx_sim.hangup(customer_leg.sid)
    await fx_sim.settle()


async def test_no_digit_when_closed_leaves_a_voicemail_as_before(fx_client: Any, fx_shop: ShopFixture,
                                                                 fx_sim: Simulator) -> None:
    await _closed_queue(fx_client, fx_shop, "general", outside_hours_call="callback")
    line = await connect(fx_client, fx_shop, fx_sim)
    call = await _offered(fx_sim, line, CUSTOMER, message_seconds=4)
    fx_sim.clock.advance(6)  # the offer's timeout passes: Twilio goes on with the voicemail
    await fx_sim.until(lambda: call.current == "Record", what="the voicemail prompt after the offer")
    fx_sim.clock.advance(5)
    await fx_sim.until(lambda: call.status == "completed", what="the voicemail call to end")
    await fx_sim.settle()
    await run_jobs(fx_shop)
    row = await _call_row(fx_shop, call.sid)
    assert row["outcome"] == "voicemail" and row["queue_key"] == "general"
    items = await _waiting_calls(fx_client, fx_shop)
    assert len(items) == 1 and items[0]["id"] == row["conversation"] and items[0]["callback_number"] == ""
    assert await webhooks(fx_shop, "callback") == []
    assert not [m for m in fx_sim.messages.values() if m.to == CUSTOMER]


async def test_a_wrong_key_when_closed_goes_to_voicemail(fx_client: Any, fx_shop: ShopFixture,
                                                         fx_sim: Simulator) -> None:
    await _closed_queue(fx_client, fx_shop, "general", outside_hours_call="callback")
    line = await connect(fx_client, fx_shop, fx_sim)
    call = await _offered(fx_sim, line, CUSTOMER, message_seconds=3)
    await fx_sim.press(call.sid, "7")
    await fx_sim.until(lambda: call.current == "Record", what="the voicemail prompt after a wrong key")
    fx_sim.clock.advance(4)
    await fx_sim.until(lambda: call.status == "completed", what="the voicemail call to end")
    await fx_sim.settle()
    await run_jobs(fx_shop)
    assert (await _call_row(fx_shop, call.sid))["outcome"] == "voicemail"
    assert await webhooks(fx_shop, "callback") == []


async def test_the_offer_speaks_the_workspace_language(fx_client: Any, fx_shop: ShopFixture,
                                                       fx_sim: Simulator) -> None:
    await _closed_queue(fx_client, fx_shop, "general", outside_hours_call="callback")
    line = await connect(fx_client, fx_shop, fx_sim)
    changed = await fx_client.put(api(fx_shop, "/workspace"), json={"language": "ru"}, headers=fx_shop.auth)
    assert changed.status_code == 200, changed.text
    call = await _offered(fx_sim, line, CUSTOMER)
    assert any("Сейчас мы закрыты" in h for h in call.heard), call.heard
    assert any("Нажмите 1" in h and "когда откроемся" in h for h in call.heard), call.heard
    await fx_sim.hangup(call.sid)
    await fx_sim.settle()


async def test_another_tenants_signature_cannot_queue_a_closed_callback(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture, fx_sim: Simulator) -> None:
    await _closed_queue(fx_client, fx_shop, "general", outside_hours_call="callback")
    await _closed_queue(fx_client, fx_other_shop, "general", outside_hours_call="callback")
    line = await connect(fx_client, fx_shop, fx_sim)
    other = await connect(fx_client, fx_other_shop, fx_sim)
    call = await _offered(fx_sim, line, CUSTOMER)
    params = {"CallSid": call.sid, "AccountSid": other.account_sid, "From": CUSTOMER, "To": line.number,
              "Digits": "1"}
    url = line.url("closed-callback") + "?queue=general"
    # B's token on A's URL: refused before anything is read.
    forged = RequestValidator(other.token).compute_signature(url, params)
    refused = await fx_client.post(url, data=params, headers={"X-Twilio-Signature": forged})
    assert refused.status_code == 403
    # B's own URL, signed by B, naming A's call: B never received it, so nothing is stored and B's caller (there is
    # none) would hear the voicemail.
    answer = await fx_sim.post(other.account_sid, other.url("closed-callback") + "?queue=general", params)
    assert answer.status_code == 200 and "<Record" in answer.text
    assert await webhooks(fx_other_shop, "callback") == [] and await webhooks(fx_shop, "callback") == []
    await fx_sim.hangup(call.sid)
    await fx_sim.settle()
    await run_jobs(fx_shop)
    await run_jobs(fx_other_shop)
    for shop in (fx_shop, fx_other_shop):
        async with tenant_context(shop.tenant) as uow:
            marked = await uow.connection.fetchval(
                "SELECT count(*) FROM conversation WHERE callback_requested_at IS NOT NULL")
        assert marked == 0


async def test_a_menu_choice_of_a_closed_queue_offers_its_callback(fx_client: Any, fx_shop: ShopFixture,
                                                                   fx_sim: Simulator) -> None:
    await fx_client.post(api(fx_shop, "/queues"), json={"key": "repairs", "name": "Repairs"}, headers=fx_shop.auth)
    await _closed_queue(fx_client, fx_shop, "repairs", outside_hours_call="callback")
    line = await connect(fx_client, fx_shop, fx_sim, ivr={"2": "repairs"})
    call = fx_sim.place_call(CUSTOMER, line.number)
    await fx_sim.press(call.sid, "2")
    await fx_sim.until(lambda: any("Press 1 to be called back" in h for h in call.heard) and call.current == "Gather",
                       what="the closed repairs queue's callback offer")
    await fx_sim.press(call.sid, "1")
    await fx_sim.until(lambda: call.status == "completed", what="the caller to hang up after pressing 1")
    await fx_sim.settle()
    await run_jobs(fx_shop)
    row = await _call_row(fx_shop, call.sid)
    assert row["outcome"] == "callback" and row["queue_key"] == "repairs"
    items = await _waiting_calls(fx_client, fx_shop)
    assert [(w["queue_key"], w["callback_number"]) for w in items] == [("repairs", CUSTOMER)]
