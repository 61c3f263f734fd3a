"""Callback, keep my place: through the simulator, a waiting caller presses 1 in the hold loop and hangs up; the queue
item keeps its place, the customer gets an SMS, the portal says "you are number N" (live), and taking the item rings
the operator and then the customer. A plain hang-up is still an abandonment; a wrong key or a redelivered webhook
changes nothing; another tenant's signature marks nothing."""

from __future__ import annotations

from typing import Any

from twilio.request_validator import RequestValidator

from app.lib.db import tenant_context
from telephony.simulator import Simulator
from telephony.simulator.core import Call as SimCall
from telephony.tables import Call
from telephony.tables import TwilioConfig as TwilioConfigRow
from tests.conftest import ShopFixture, browser_login, csrf_from, run_jobs_until, work_left
from tests.integration.telephony_kit import (  # noqa: F401
    CUSTOMER,
    OPERATOR_PHONE,
    Line,
    connect,
    run_jobs,
    sim_fixture,
    webhooks,
)
from tests.integration.test_orders import make_contact, make_order

AHEAD = "+14155550171"
BEHIND = "+14155550173"


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _call_row(shop: ShopFixture, sid: str) -> dict[str, Any]:
    async with tenant_context(shop.tenant):
        row = await Call.select().where(Call.sid == sid).first()
    assert row is not None
    return row


async def _queued(sim: Simulator, line: Line, number: str) -> SimCall:
    call = sim.place_call(number, line.number)
    await sim.until(lambda: call.queue == "general", what=f"{number} in the queue")
    await sim.until(lambda: call.current == "Gather", what=f"{number} in the hold loop's gather")
    return call


async def _waiting(client: Any, shop: ShopFixture) -> list[dict[str, Any]]:
    resp = await client.get(api(shop, "/conversations/waiting"), headers=shop.auth)
    assert resp.status_code == 200, resp.text
    return [w for w in resp.json() if w["channel"] == "call"]


async def _portal_text(client: Any, url: str) -> str:
    page = await client.get(url.split("testserver.local", 1)[-1])
    assert page.status_code == 200
    return page.text


async def _all_done(shop: ShopFixture) -> None:
    async def done() -> bool:
        return not await work_left(shop.tenant)

    await run_jobs_until(done)


async def _events_on(shop: ShopFixture, name: str, topic: str) -> int:
    async with tenant_context(shop.tenant) as uow:
        return int(await uow.connection.fetchval(
            "SELECT count(*) FROM event_log WHERE name = $1 AND $2 = ANY(channels)", name, topic))


async def test_press_one_keeps_the_place_texts_the_customer_and_an_agent_calls_back(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim, offer_callback=True)
    buyer = await make_contact(fx_client, fx_shop, "Bea Caller", phones=[CUSTOMER])
    order = await make_order(fx_client, fx_shop, buyer["id"], number="CB-1")
    portal = (await fx_client.post(api(fx_shop, f"/orders/{order['id']}/portal"), headers=fx_shop.auth)).json()["url"]

    first = await _queued(fx_sim, line, AHEAD)
    await run_jobs(fx_shop)
    caller = await _queued(fx_sim, line, CUSTOMER)
    await run_jobs(fx_shop)
    last = await _queued(fx_sim, line, BEHIND)
    await run_jobs(fx_shop)
    assert any("Press 1 to hang up and be called back" in h for h in caller.heard), caller.heard
    before = [w["id"] for w in await _waiting(fx_client, fx_shop)]
    assert len(before) == 3
    assert "We will call you back" not in await _portal_text(fx_client, portal)

    await fx_sim.press(caller.sid, "1")
    await fx_sim.until(lambda: caller.status == "completed", what="the caller to hang up after pressing 1")
    assert any("We will call you back" in h for h in caller.heard) and caller.queue is None
    await fx_sim.settle()
    await run_jobs(fx_shop)

    # The same item, at the same place: the items ahead and behind are unchanged.
    items = await _waiting(fx_client, fx_shop)
    assert [w["id"] for w in items] == before
    item = items[1]
    assert item["callback_number"] == CUSTOMER and item["callback_requested_at"] is not None
    assert item["contact_id"] == buyer["id"] and item["status"] == "waiting"
    one = (await fx_client.get(api(fx_shop, f"/conversations/{item['id']}"), headers=fx_shop.auth)).json()
    assert one["callback_number"] == CUSTOMER
    row = await _call_row(fx_shop, caller.sid)
    assert row["outcome"] == "callback" and row["status"] == "completed"
    assert first.queue == "general" and last.queue == "general"

    # The SMS went through the simulator's Messages endpoint, and is on the timeline.
    texts = [m for m in fx_sim.messages.values() if m.to == CUSTOMER and m.direction == "outbound-api"]
    assert len(texts) == 1 and "number 2" in texts[0].body and "call you back" in texts[0].body
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{buyer['id']}/timeline"),
                                    headers=fx_shop.auth)).json()["items"]
    events = [i["payload"].get("event") for i in timeline]
    assert "callback_requested" in events and "sms" in events
    assert not any(i["payload"].get("outcome") == "abandoned" for i in timeline)

    # The portal: "you are number 2", then 1 once the caller ahead is taken; the change reaches the order's channel.
    await _all_done(fx_shop)
    assert "We will call you back, you are number 2." in await _portal_text(fx_client, portal)
    moved = await _events_on(fx_shop, "order.callback_moved", f"order:{order['id']}")
    taken = await fx_client.post(api(fx_shop, f"/conversations/{before[0]}/take"), headers=fx_shop.auth)
    assert taken.status_code == 200, taken.text
    await _all_done(fx_shop)
    assert await _events_on(fx_shop, "order.callback_moved", f"order:{order['id']}") > moved
    assert "We will call you back, you are number 1." in await _portal_text(fx_client, portal)

    # An agent takes it: their phone rings, then the simulator rings the customer (the callback is made).
    accepted = await fx_client.post(api(fx_shop, f"/calls/{item['id']}/accept"), headers=fx_shop.auth)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["conversation"]["status"] == "active"
    operator_leg = await fx_sim.answer(OPERATOR_PHONE)
    await fx_sim.settle()
    await run_jobs(fx_shop)
    await fx_sim.until(lambda: bool(fx_sim.ringing(CUSTOMER)), what="the customer's phone to ring")
    customer_leg = await fx_sim.answer(CUSTOMER)
    await fx_sim.until(lambda: fx_sim.conferences.together(customer_leg.sid, operator_leg.sid) is not None,
                       what="the operator and the customer together")
    assert customer_leg.from_ == line.number
    await _all_done(fx_shop)
    assert "We will call you back" not in await _portal_text(fx_client, portal)
    assert [w["id"] for w in await _waiting(fx_client, fx_shop)] == [before[2]]
    await fx_sim.hangup(customer_leg.sid)
    await fx_sim.settle()


async def test_a_plain_hang_up_is_still_abandoned(fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim, offer_callback=True)
    caller = await _queued(fx_sim, line, CUSTOMER)
    await run_jobs(fx_shop)
    assert len(await _waiting(fx_client, fx_shop)) == 1
    await fx_sim.hangup(caller.sid)
    await fx_sim.settle()
    await run_jobs(fx_shop)
    assert await _waiting(fx_client, fx_shop) == []
    row = await _call_row(fx_shop, caller.sid)
    assert row["outcome"] == "abandoned"
    assert not [m for m in fx_sim.messages.values() if m.to == CUSTOMER]


async def test_wrong_key_and_redelivery_change_nothing(fx_client: Any, fx_shop: ShopFixture,
                                                       fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim, offer_callback=True)
    caller = await _queued(fx_sim, line, CUSTOMER)
    await run_jobs(fx_shop)
    await fx_sim.press(caller.sid, "5")  # not the callback digit: the hold loop goes on
    await fx_sim.until(lambda: any(e["params"].get("Digits") == "5" for e in fx_sim.webhook_log), what="the key")
    await fx_sim.until(lambda: caller.current == "Gather", what="the next hold loop")
    assert caller.queue == "general" and caller.status == "in-progress"
    assert await webhooks(fx_shop, "callback") == []

    await fx_sim.press(caller.sid, "1")
    await fx_sim.until(lambda: caller.status == "completed", what="the hang-up after 1")
    await fx_sim.settle()
    delivered = next(e for e in fx_sim.webhook_log if e["params"].get("Digits") == "1")
    again = await fx_sim.post(line.account_sid, delivered["url"], delivered["params"])  # Twilio retries it
    assert again.status_code == 200 and "<Leave" in again.text
    assert len(await webhooks(fx_shop, "callback")) == 1
    await run_jobs(fx_shop)
    await run_jobs(fx_shop)
    items = await _waiting(fx_client, fx_shop)
    assert len(items) == 1 and items[0]["callback_number"] == CUSTOMER
    assert len([m for m in fx_sim.messages.values() if m.to == CUSTOMER]) == 1


async def test_offer_is_off_unless_the_shop_turns_it_on(fx_client: Any, fx_shop: ShopFixture,
                                                        fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    call = fx_sim.place_call(CUSTOMER, line.number)
    await fx_sim.until(lambda: any("in line" in h for h in call.heard), what="the hold loop")
    assert not any("called back" in h for h in call.heard)
    params = {"CallSid": call.sid, "AccountSid": line.account_sid, "From": CUSTOMER, "To": line.number,
              "Digits": "1"}
    answer = await fx_sim.post(line.account_sid, line.url("callback"), params)
    assert answer.status_code == 200 and "<Leave" not in answer.text
    assert await webhooks(fx_shop, "callback") == []
    await fx_sim.hangup(call.sid)
    await fx_sim.settle()


async def test_another_tenants_signature_cannot_mark_a_call(fx_client: Any, fx_shop: ShopFixture,
                                                            fx_other_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim, offer_callback=True)
    other = await connect(fx_client, fx_other_shop, fx_sim, offer_callback=True)
    caller = await _queued(fx_sim, line, CUSTOMER)
    await run_jobs(fx_shop)
    params = {"CallSid": caller.sid, "AccountSid": other.account_sid, "From": CUSTOMER, "To": line.number,
              "Digits": "1"}
    # B's token on A's URL: refused before anything is read.
    forged = RequestValidator(other.token).compute_signature(line.url("callback"), params)
    refused = await fx_client.post(line.url("callback"), data=params, headers={"X-Twilio-Signature": forged})
    assert refused.status_code == 403
    # B's own URL, signed by B, naming A's call: B's schema has no such call, so nothing is stored or marked.
    answer = await fx_sim.post(other.account_sid, other.url("callback"), params)
    assert answer.status_code == 200 and "<Leave" not in answer.text
    assert await webhooks(fx_other_shop, "callback") == [] and await webhooks(fx_shop, "callback") == []
    items = await _waiting(fx_client, fx_shop)
    assert len(items) == 1 and items[0]["callback_number"] == ""
    # B's supervisor API cannot cancel A's item either.
    cancel = await fx_client.post(api(fx_other_shop, f"/calls/{items[0]['id']}/callback/cancel"), json={},
                                  headers=fx_other_shop.auth)
    assert cancel.status_code == 404
    await fx_sim.hangup(caller.sid)
    await fx_sim.settle()


async def test_a_supervisor_cancels_a_callback(fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim, offer_callback=True)
    caller = await _queued(fx_sim, line, CUSTOMER)
    await run_jobs(fx_shop)
    await fx_sim.press(caller.sid, "1")
    await fx_sim.until(lambda: caller.status == "completed", what="the hang-up after 1")
    await fx_sim.settle()
    await run_jobs(fx_shop)
    item = (await _waiting(fx_client, fx_shop))[0]
    long = await fx_client.post(api(fx_shop, f"/calls/{item['id']}/callback/cancel"), json={"reason": "x" * 501},
                                headers=fx_shop.auth)
    assert long.status_code == 400 and long.json()["errors"][0]["field"] == "reason"
    done = await fx_client.post(api(fx_shop, f"/calls/{item['id']}/callback/cancel"),
                                json={"reason": "Reached by email"}, headers=fx_shop.auth)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "closed" and done.json()["wrapup_code"] == "callback-cancelled"
    assert await _waiting(fx_client, fx_shop) == []
    again = await fx_client.post(api(fx_shop, f"/calls/{item['id']}/callback/cancel"), json={},
                                 headers=fx_shop.auth)
    assert again.status_code == 400


async def test_console_shows_the_callback_and_its_take_dials_the_customer(fx_client: Any, fx_shop: ShopFixture,
                                                                         fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim, offer_callback=True)
    caller = await _queued(fx_sim, line, CUSTOMER)
    await run_jobs(fx_shop)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/console/")
    queue = (await fx_client.get(f"/t/{fx_shop.slug}/console/panels/queue", headers={"accept": "text/html"})).text
    assert 'data-testid="accept"' in queue and 'data-testid="callback-badge"' not in queue

    await fx_sim.press(caller.sid, "1")
    await fx_sim.until(lambda: caller.status == "completed", what="the hang-up after 1")
    await fx_sim.settle()
    await run_jobs(fx_shop)
    queue = (await fx_client.get(f"/t/{fx_shop.slug}/console/panels/queue", headers={"accept": "text/html"})).text
    assert 'data-testid="callback-badge"' in queue and 'data-testid="call-back"' in queue
    assert 'data-testid="cancel-callback"' in queue and 'data-testid="accept"' not in queue
    item = (await _waiting(fx_client, fx_shop))[0]

    took = await fx_client.post(f"/t/{fx_shop.slug}/console/take/{item['id']}", headers={"X-CSRF-Token": token})
    assert took.status_code == 200, took.text
    operator_leg = await fx_sim.answer(OPERATOR_PHONE)
    await fx_sim.settle()
    await run_jobs(fx_shop)
    customer_leg = await fx_sim.answer(CUSTOMER)
    await fx_sim.until(lambda: fx_sim.conferences.together(customer_leg.sid, operator_leg.sid) is not None,
                       what="the operator and the customer together")
    mine = (await fx_client.get(f"/t/{fx_shop.slug}/console/panels/mine", headers={"accept": "text/html"})).text
    assert 'data-testid="hang-up"' in mine
    await fx_sim.hangup(customer_leg.sid)
    await fx_sim.settle()
    await run_jobs(fx_shop)
    conv = (await fx_client.get(api(fx_shop, f"/conversations/{item['id']}"), headers=fx_shop.auth)).json()
    assert conv["status"] in ("active", "wrapup") and conv["assigned_to_id"] == fx_shop.user_id


async def test_settings_page_turns_the_offer_on_and_the_prompt_speaks_the_workspace_language(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = f"/t/{fx_shop.slug}/settings/twilio/"
    token = await csrf_from(fx_client, page)
    saved = (await fx_client.get(api(fx_shop, "/channels/twilio"), headers=fx_shop.auth)).json()
    assert saved["offer_callback"] is False
    form = {"_csrf": token, "account_sid": line.account_sid, "auth_token": "", "numbers": line.number,
            "timeout_seconds": "60", "offer_callback": "on", "devices": f"{fx_shop.user_id}={OPERATOR_PHONE}"}
    posted = await fx_client.post(page, data=form)
    assert posted.status_code == 200 and 'data-testid="offer-callback" checked' in posted.text, posted.text[-2000:]
    assert (await fx_client.get(api(fx_shop, "/channels/twilio"), headers=fx_shop.auth)).json()["offer_callback"]
    bad = await fx_client.put(api(fx_shop, "/channels/twilio"), json={"account_sid": line.account_sid,
                                                                     "numbers": [line.number], "offer_callback": "yes"},
                              headers=fx_shop.auth)
    assert bad.status_code == 400

    changed = await fx_client.put(api(fx_shop, "/workspace"), json={"language": "ru"}, headers=fx_shop.auth)
    assert changed.status_code == 200, changed.text
    caller = await _queued(fx_sim, line, CUSTOMER)
    assert any("Нажмите 1" in h and "перезвоним" in h for h in caller.heard), caller.heard
    await fx_sim.hangup(caller.sid)
    await fx_sim.settle()


async def test_the_demo_shop_has_one_waiting_callback_with_its_portal_line(fx_client: Any) -> None:
    from app import demo
    from app.conversations.tables import Conversation
    from app.lib.db import resolve_active
    from app.orders import portal

    await demo.ensure_demo()
    assert await demo.ensure_demo_telephony() in (True, False)
    tenant = await resolve_active(demo.DEMO_SLUG)
    assert tenant is not None
    async with tenant_context(tenant) as uow:
        waiting = await Conversation.select().where(
            (Conversation.status == "waiting") & Conversation.callback_requested_at.is_not_null())
        assert len(waiting) == 1 and waiting[0]["channel"] == "call" and waiting[0]["callback_number"].startswith("+")
        order_id = await uow.connection.fetchval(
            "SELECT o.id FROM shop_order o JOIN order_status s ON s.key = o.status WHERE o.contact = $1 "
            "AND NOT s.final ORDER BY o.id LIMIT 1", waiting[0]["contact"])
        view = await portal.view(order_id)
        assert view["callback"] is not None and view["callback"]["position"] >= 1
        assert (await TwilioConfigRow.select(TwilioConfigRow.offer_callback).first())["offer_callback"] is True


async def test_a_digit_pressed_as_the_call_is_taken_queues_nothing_but_is_on_the_timeline(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim, offer_callback=True)
    caller = await _queued(fx_sim, line, CUSTOMER)
    await run_jobs(fx_shop)
    item = (await _waiting(fx_client, fx_shop))[0]
    await fx_sim.press(caller.sid, "1")
    await fx_sim.until(lambda: caller.status == "completed", what="the hang-up after 1")
    await fx_sim.settle()
    taken = await fx_client.post(api(fx_shop, f"/conversations/{item['id']}/take"), headers=fx_shop.auth)
    assert taken.status_code == 200, taken.text  # the operator got there before the digit's job ran
    await run_jobs(fx_shop)
    assert await _waiting(fx_client, fx_shop) == []
    conv = (await fx_client.get(api(fx_shop, f"/conversations/{item['id']}"), headers=fx_shop.auth)).json()
    assert conv["status"] == "active" and conv["callback_requested_at"] is None
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{item['contact_id']}/timeline"),
                                    headers=fx_shop.auth)).json()["items"]
    assert any(i["payload"].get("event") == "callback_too_late" for i in timeline)
