"""When things go wrong: an answer of ours that is not TwiML is reported by the simulator as Twilio reports it (a
Notification, the fallback URL with ErrorCode/ErrorUrl, else "an application error has occurred"); our fallback
queues the caller; webhooks whose processing fails are kept, listed for the admin and can be retried."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from telephony.calls import NotReady
from telephony.simulator import Simulator
from telephony.simulator.core import Call as SimCall
from tests.conftest import ShopFixture, browser_login, csrf_from
from tests.integration.telephony_kit import CUSTOMER, connect, run_jobs, sim_fixture, webhooks  # noqa: F401

FINAL = ("completed", "busy", "failed", "no-answer", "canceled")


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def test_invalid_twiml_is_reported_and_the_fallback_queues_the_caller(fx_client: Any, fx_shop: ShopFixture,
                                                                           fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim, greeting="Welcome.", ivr={"1": "general"})
    number = fx_sim.numbers[line.number]
    number.voice_url = line.url("status")  # a pasting mistake: that URL answers 204 with no TwiML at all

    lost = fx_sim.place_call(CUSTOMER, line.number)
    await fx_sim.until(lambda: lost.status in FINAL, what="the failed call to end")
    [note] = [n for n in fx_sim.notifications if n["call_sid"] == lost.sid]
    assert note["error_code"] == "12100" and note["request_url"] == line.url("status")
    assert lost.heard == ["An application error has occurred. Goodbye."] and lost.verbs == []

    number.voice_fallback_url = line.url("voice-fallback")
    kept = fx_sim.place_call(CUSTOMER, line.number)
    await fx_sim.until(lambda: kept.queue == "general", what="the fallback to queue the caller")
    fallback = [w for w in fx_sim.webhook_log if w["url"] == line.url("voice-fallback")]
    assert fallback[0]["params"]["ErrorCode"] == "12100" and fallback[0]["params"]["ErrorUrl"] == line.url("status")
    assert "An application error has occurred. Goodbye." not in kept.heard

    await run_jobs(fx_shop)
    waiting = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=fx_shop.auth)).json()
    item = next(w for w in waiting if w["subject"].startswith("Call from"))
    assert item["channel"] == "call" and item["queue_key"] == "general"
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{item['contact_id']}/timeline"),
                                    headers=fx_shop.auth)).json()["items"]
    assert any(i["summary"].startswith("Phone system error 12100") for i in timeline)
    problems = (await fx_client.get(api(fx_shop, "/channels/twilio/problems"), headers=fx_shop.auth)).json()
    assert [(e["sid"], e["error_code"], e["error_url"]) for e in problems["twilio_errors"]] == [
        (kept.sid, "12100", line.url("status"))]
    assert all(w["processed_at"] is not None for w in await webhooks(fx_shop))


async def test_failed_processing_is_kept_listed_and_retried_by_hand(fx_client: Any, fx_shop: ShopFixture,
                                                                   fx_sim: Simulator) -> None:
    """A recording callback for a call we do not know fails; after the queue gives up, the admin sees it on the
    settings page and in the API, retries it once the call is known, and it lands."""
    line = await connect(fx_client, fx_shop, fx_sim)
    sid = "CA" + secrets.token_hex(16)
    rec = fx_sim._make_recording(SimCall(sid=sid, account_sid=line.account_sid, from_=CUSTOMER, to=line.number,
                                         direction="inbound"), 3, "DialVerb", 1)
    params = {"AccountSid": line.account_sid, "CallSid": sid, "RecordingSid": rec.sid,
              "RecordingUrl": fx_sim.recording_url(rec), "RecordingStatus": "completed", "RecordingDuration": "3",
              "RecordingChannels": "1", "RecordingSource": "DialVerb"}
    assert (await fx_sim.post(line.account_sid, line.url("recording"), params)).status_code == 204
    with pytest.raises(NotReady):  # its job, taken off the queue as a worker would, fails (and is not queued again,
        await run_jobs(fx_shop)     # as when the queue has given up after its retries)
    [hook] = await webhooks(fx_shop, "recording")

    problems = (await fx_client.get(api(fx_shop, "/channels/twilio/problems"), headers=fx_shop.auth)).json()
    [failing] = problems["failing"]
    assert failing["id"] == hook["id"] and failing["kind"] == "recording" and failing["attempts"] == 1
    assert "not known yet" in failing["last_error"]
    assert (await fx_client.get(api(fx_shop, "/channels/twilio/problems"))).status_code == 401

    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page_url = f"/t/{fx_shop.slug}/settings/twilio/"
    page = await fx_client.get(page_url, headers={"accept": "text/html"})
    assert 'data-testid="failing-webhook"' in page.text and "not known yet" in page.text
    assert f"/settings/twilio/webhooks/{hook['id']}/retry" in page.text
    assert "/webhooks/twilio/voice-fallback" in page.text, "the fallback URL is shown to paste into Twilio"

    voice = {"CallSid": sid, "AccountSid": line.account_sid, "From": CUSTOMER, "To": line.number,
             "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}
    assert (await fx_sim.post(line.account_sid, line.url("voice"), voice)).status_code == 200
    await run_jobs(fx_shop)  # the call is known now; the recording's own job is gone (the queue gave up on it)
    [hook] = await webhooks(fx_shop, "recording")
    assert hook["processed_at"] is None

    token = await csrf_from(fx_client, page_url)
    retried = await fx_client.post(f"{page_url}webhooks/{hook['id']}/retry", data={"_csrf": token},
                                   headers={"accept": "text/html"})
    assert retried.status_code == 200 and "queued again" in retried.text
    assert await run_jobs(fx_shop) == 1
    [hook] = await webhooks(fx_shop, "recording")
    assert hook["processed_at"] is not None and hook["attempts"] == 2
    problems = (await fx_client.get(api(fx_shop, "/channels/twilio/problems"), headers=fx_shop.auth)).json()
    assert problems["failing"] == []
    again = await fx_client.post(api(fx_shop, f"/channels/twilio/webhooks/{hook['id']}/retry"), headers=fx_shop.auth)
    assert again.status_code == 409
    unknown = await fx_client.post(api(fx_shop, "/channels/twilio/webhooks/999999/retry"), headers=fx_shop.auth)
    assert unknown.status_code == 404
