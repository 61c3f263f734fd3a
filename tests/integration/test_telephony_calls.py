"""Inbound calls through the simulator: IVR, queue, accept, bridge, completion, recording; voicemail; click-to-call."""

from __future__ import annotations

from typing import Any

import httpx

from app.lib.db import tenant_context
from telephony import client as twilio_client
from telephony.simulator import Simulator
from telephony.tables import Call
from tests.conftest import ShopFixture
from tests.integration.telephony_kit import CUSTOMER, OPERATOR_PHONE, connect, run_jobs, sim_fixture  # noqa: F401


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _call_row(shop: ShopFixture, sid: str) -> dict[str, Any]:
    async with tenant_context(shop.tenant):
        row = await Call.select().where(Call.sid == sid).first()
    assert row is not None
    return row


async def test_inbound_call_ivr_queue_accept_bridge_complete_recording(fx_client: Any, fx_shop: ShopFixture,
                                                                        fx_sim: Simulator) -> None:
    await fx_client.post(api(fx_shop, "/queues"), json={"key": "sales", "name": "Sales"}, headers=fx_shop.auth)
    line = await connect(fx_client, fx_shop, fx_sim, greeting="Welcome to the shop.", ivr={"1": "sales"})

    call = fx_sim.place_call(CUSTOMER, line.number)
    await fx_sim.press(call.sid, "1")
    await fx_sim.until(lambda: call.queue == "sales", what="the caller in the sales queue")
    assert call.verbs[:3] == ["Say", "Gather", "Enqueue"]
    assert "Welcome to the shop." in call.heard and any("press 1" in h for h in call.heard)
    await fx_sim.until(lambda: any("number 1 in line" in h for h in call.heard), what="the position announcement")

    await run_jobs(fx_shop)
    waiting = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=fx_shop.auth)).json()
    conversation_id = (await _call_row(fx_shop, call.sid))["conversation"]
    item = next(w for w in waiting if w["id"] == conversation_id)
    assert item["channel"] == "call" and item["queue_key"] == "sales" and item["status"] == "waiting"
    contact = (await fx_client.get(api(fx_shop, f"/contacts/{item['contact_id']}"), headers=fx_shop.auth)).json()
    assert contact["phones"] == [CUSTOMER]

    accepted = await fx_client.post(api(fx_shop, f"/calls/{item['id']}/accept"), headers=fx_shop.auth)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["conversation"]["status"] == "active"
    leg = await fx_sim.answer(OPERATOR_PHONE)
    # Calls run as Twilio Conferences (issue 14): the caller and the operator's leg are in one started conference.
    await fx_sim.until(lambda: fx_sim.conferences.together(call.sid, leg.sid) is not None, what="the conference")
    assert call.queue is None and leg.from_ == line.number and call.verbs[-1] == "Dial"
    fx_sim.clock.advance(42)
    await fx_sim.hangup(call.sid)
    await fx_sim.settle()
    await run_jobs(fx_shop)

    row = await _call_row(fx_shop, call.sid)
    assert row["status"] == "completed" and row["outcome"] == "answered" and row["duration"] >= 42
    assert row["operator"] == fx_shop.user_id and row["recording_status"] == "completed"
    assert row["recording_duration"] >= 42
    audio = await fx_client.get(api(fx_shop, f"/calls/{row['id']}/recording"), headers=fx_shop.auth)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    assert audio.content[:2] == b"\xff\xfb" and len(audio.content) >= 42 * 4000, "an MP3 of the whole call (32 kbps)"
    assert (await fx_client.get(api(fx_shop, f"/calls/{row['id']}/recording"))).status_code == 401
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{item['contact_id']}/timeline"),
                                    headers=fx_shop.auth)).json()["items"]
    summaries = [i["summary"] for i in timeline]
    assert any(s.startswith("Call recording (4") for s in summaries), summaries
    ended = next(i for i in timeline if i["payload"].get("event") == "ended")
    assert ended["payload"]["outcome"] == "answered" and ended["payload"]["talk_seconds"] >= 42
    recording = next(i for i in timeline if i["payload"].get("event") == "recording")
    assert recording["payload"]["url"].startswith(f"/t/{fx_shop.slug}/api/v1/calls/")
    assert "twilio.com" not in str(timeline) and line.token not in str(timeline)


async def test_no_answer_within_timeout_leaves_voicemail_and_a_callback(fx_client: Any, fx_shop: ShopFixture,
                                                                       fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim, timeout_seconds=30)
    call = fx_sim.place_call(CUSTOMER, line.number, message_seconds=7)
    await fx_sim.until(lambda: call.queue == "general", what="the caller in the queue")
    fx_sim.clock.advance(31)  # nobody takes the call within the tenant's timeout
    await fx_sim.until(lambda: call.current == "Record", what="the voicemail prompt")
    fx_sim.clock.advance(8)  # the caller speaks for 7 s
    await fx_sim.until(lambda: call.status == "completed", what="the call to end after the voicemail")
    await fx_sim.settle()
    assert "Leave" not in call.verbs and call.verbs.count("Record") == 1
    await run_jobs(fx_shop)
    row = await _call_row(fx_shop, call.sid)
    assert row["outcome"] == "voicemail" and row["recording_status"] == "completed"
    waiting = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=fx_shop.auth)).json()
    item = next(w for w in waiting if w["id"] == row["conversation"])
    assert item["subject"].startswith("Callback: voicemail from")
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{row['contact']}/timeline"),
                                    headers=fx_shop.auth)).json()["items"]
    assert any(i["summary"].startswith("Voicemail from") for i in timeline)
    assert any(i["summary"] == "Voicemail recording (7 s)" for i in timeline)


async def test_after_hours_goes_straight_to_voicemail(fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    import datetime as dt

    from telephony.config import DAYS

    tomorrow = DAYS[(dt.datetime.now(dt.UTC).weekday() + 1) % 7]  # open only on another day: closed now
    line = await connect(fx_client, fx_shop, fx_sim, business_hours={"timezone": "UTC",
                                                                     "days": {tomorrow: ["09:00", "17:00"]}})
    call = fx_sim.place_call(CUSTOMER, line.number, message_seconds=4)
    await fx_sim.until(lambda: call.current == "Record", what="the voicemail prompt")
    fx_sim.clock.advance(5)
    await fx_sim.until(lambda: call.status == "completed", what="the voicemail call to end")
    assert "Enqueue" not in call.verbs and "Record" in call.verbs
    assert any("closed" in h for h in call.heard)
    await fx_sim.settle()
    await run_jobs(fx_shop)
    row = await _call_row(fx_shop, call.sid)
    assert row["outcome"] == "voicemail" and row["conversation"] is not None


async def test_click_to_call_rings_the_operator_then_the_customer(fx_client: Any, fx_shop: ShopFixture,
                                                                 fx_sim: Simulator) -> None:
    await connect(fx_client, fx_shop, fx_sim)
    contact = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Cleo", "phones": ["+14155550144"]},
                                    headers=fx_shop.auth)).json()
    placed = await fx_client.post(api(fx_shop, f"/contacts/{contact['id']}/call"), json={}, headers=fx_shop.auth)
    assert placed.status_code == 201, placed.text
    sid = placed.json()["sid"]
    operator_leg = await fx_sim.answer(OPERATOR_PHONE)
    assert operator_leg.sid == sid
    await fx_sim.settle()
    await run_jobs(fx_shop)  # the operator's join (conference callback) adds the customer
    customer_leg = await fx_sim.answer("+14155550144")
    # A conference call (issue 14): the customer and operator legs together in one started conference.
    await fx_sim.until(lambda: fx_sim.conferences.together(customer_leg.sid, sid) is not None, what="the conference")
    assert customer_leg.from_ == fx_sim.calls[sid].from_
    fx_sim.clock.advance(20)
    await fx_sim.hangup(customer_leg.sid)
    await fx_sim.until(lambda: fx_sim.calls[sid].status == "completed", what="the call to end")
    await fx_sim.settle()
    await run_jobs(fx_shop)
    row = await _call_row(fx_shop, customer_leg.sid)  # the customer's leg is the call, as the caller's is inbound
    assert row["status"] == "completed" and row["outcome"] == "answered" and row["last_sequence"] == 3
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{contact['id']}/timeline"),
                                    headers=fx_shop.auth)).json()["items"]
    assert any(i["payload"].get("event") == "dialing" for i in timeline)
    assert any(i["payload"].get("event") == "ended" and i["direction"] == "out" for i in timeline)


async def test_simulator_serves_recording_media_as_twilio_does(fx_client: Any, fx_shop: ShopFixture,
                                                              fx_sim: Simulator) -> None:
    """RecordingUrl with no extension or .wav is WAV, .mp3 is MP3, .json the metadata; media needs the account's
    credentials. The app keeps the .mp3 copy (test above), so these must all hold for it to hold against Twilio."""
    line = await connect(fx_client, fx_shop, fx_sim)
    from telephony.simulator.core import Call as SimCall

    rec = fx_sim._make_recording(SimCall(sid="CA" + "0" * 32, account_sid=line.account_sid, from_=CUSTOMER,
                                         to=line.number, direction="inbound"), 5, "DialVerb", 1)
    path = f"/2010-04-01/Accounts/{line.account_sid}/Recordings/{rec.sid}"
    assert fx_sim.recording_url(rec).endswith(path)
    async with httpx.AsyncClient(base_url=twilio_client.api_base(), auth=(line.account_sid, line.token)) as twilio:
        for suffix, media_type, magic in (("", "audio/x-wav", b"RIFF"), (".wav", "audio/x-wav", b"RIFF"),
                                          (".mp3", "audio/mpeg", b"\xff\xfb")):
            media = await twilio.get(path + suffix)
            assert media.status_code == 200 and media.headers["content-type"] == media_type, suffix
            assert media.content.startswith(magic), suffix
        mp3 = (await twilio.get(path + ".mp3")).content
        assert 5 * 4000 <= len(mp3) <= 5 * 4000 + 200, "32 kbps CBR: the length says the duration"
        assert (await twilio.get(path + ".json")).json()["duration"] == "5"
        assert (await twilio.get(path + ".ogg")).status_code == 404
    async with httpx.AsyncClient(base_url=twilio_client.api_base()) as anonymous:
        denied = await anonymous.get(path + ".mp3")
        assert denied.status_code == 401 and denied.json()["code"] == 20003


async def test_a_blocked_caller_is_refused_yet_kept_on_the_timeline(fx_client: Any, fx_shop: ShopFixture,
                                                                    fx_sim: Simulator) -> None:
    """A number blocked as spam (conversation actions, issue 14): Twilio is told <Reject> so the caller never waits
    in a queue nobody will take, and the call is still stored, on a closed conversation, with no queue item."""
    line = await connect(fx_client, fx_shop, fx_sim)
    blocked = await fx_client.post(api(fx_shop, "/blocked-addresses"), json={"address": CUSTOMER, "reason": "spam"},
                                   headers=fx_shop.auth)
    assert blocked.status_code == 201, blocked.text

    call = fx_sim.place_call(CUSTOMER, line.number)
    await fx_sim.until(lambda: call.status == "busy", what="the call refused")
    assert call.verbs == ["Reject"] and call.queue is None
    await fx_sim.settle()
    await run_jobs(fx_shop)
    row = await _call_row(fx_shop, call.sid)
    assert row["status"] == "busy" and row["conversation"] is not None
    waiting = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=fx_shop.auth)).json()
    assert row["conversation"] not in [w["id"] for w in waiting]
    conversation = (await fx_client.get(api(fx_shop, f"/conversations/{row['conversation']}"),
                                        headers=fx_shop.auth)).json()
    assert conversation["status"] == "closed" and conversation["from_address"] == CUSTOMER

    other = fx_sim.place_call("+14155550177", line.number)  # everyone else still reaches the queue
    await fx_sim.until(lambda: other.queue == "general", what="an unblocked caller in the queue")
