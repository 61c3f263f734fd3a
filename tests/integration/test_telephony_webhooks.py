"""Webhook intake: signatures (403, nothing stored), redeliveries, disorder, cross-tenant, retried failing jobs."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from twilio.request_validator import RequestValidator

from app.lib.db import tenant_context
from app.lib.jobs import Worker
from telephony.simulator import Simulator
from telephony.tables import Call
from tests.conftest import TEST_DSN, ShopFixture
from tests.integration.telephony_kit import CUSTOMER, Line, connect, run_jobs, sim_fixture, webhooks  # noqa: F401


def _voice_params(line: Line, call_sid: str) -> dict[str, str]:
    return {"CallSid": call_sid, "AccountSid": line.account_sid, "From": CUSTOMER, "To": line.number,
            "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}


async def _post(client: Any, url: str, params: dict[str, str], signature: str | None) -> Any:
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    return await client.post(url, data=params, headers=headers)


async def test_signatures_are_checked_before_anything_is_stored(fx_client: Any, fx_shop: ShopFixture,
                                                                fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    url = line.url("voice")
    params = _voice_params(line, "CA" + secrets.token_hex(16))
    good = RequestValidator(line.token).compute_signature(url, params)
    wrong_token = RequestValidator(secrets.token_hex(16)).compute_signature(url, params)
    tampered = {**params, "From": "+14155550100"}
    other_url = RequestValidator(line.token).compute_signature(url + "?x=1", params)
    for body, signature in ((params, wrong_token), (tampered, good), (params, None), (params, other_url),
                            (params, "")):
        answer = await _post(fx_client, url, body, signature)
        assert answer.status_code == 403, (signature, answer.text)
    for name in ("status", "recording", "sms", "sms-status", "gather", "wait", "dial-action", "voicemail",
                 "voice-fallback", "conference", "participant-status", "announce"):
        assert (await _post(fx_client, line.url(name), params, good)).status_code == 403, name
    assert await webhooks(fx_shop) == []
    # The twilio library's own signature is accepted, and the answer is TwiML.
    answer = await _post(fx_client, url, params, good)
    assert answer.status_code == 200 and answer.text.startswith("<?xml") and "<Enqueue" in answer.text
    stored = await webhooks(fx_shop)
    assert [w["kind"] for w in stored] == ["voice"] and stored[0]["params"]["CallSid"] == params["CallSid"]


async def test_signed_webhook_of_tenant_a_is_refused_by_tenant_b(fx_client: Any, fx_shop: ShopFixture,
                                                                 fx_other_shop: ShopFixture, fx_sim: Simulator) -> None:
    line_a = await connect(fx_client, fx_shop, fx_sim)
    line_b = await connect(fx_client, fx_other_shop, fx_sim)
    params = _voice_params(line_a, "CA" + secrets.token_hex(16))
    signed_for_a = RequestValidator(line_a.token).compute_signature(line_a.url("voice"), params)
    assert (await _post(fx_client, line_b.url("voice"), params, signed_for_a)).status_code == 403
    # Even re-signed for B's URL with A's token: B's token decides.
    resigned = RequestValidator(line_a.token).compute_signature(line_b.url("voice"), params)
    assert (await _post(fx_client, line_b.url("voice"), params, resigned)).status_code == 403
    assert await webhooks(fx_other_shop) == []


async def test_replays_and_reverse_order_status_callbacks(fx_client: Any, fx_shop: ShopFixture,
                                                          fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    sid = "CA" + secrets.token_hex(16)
    params = _voice_params(line, sid)
    signature = RequestValidator(line.token).compute_signature(line.url("voice"), params)
    answers = await asyncio.gather(*(_post(fx_client, line.url("voice"), params, signature) for _ in range(3)))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len(await webhooks(fx_shop, "voice")) == 1
    statuses = [("ringing", "0", ""), ("in-progress", "1", ""), ("completed", "2", "37")]
    for status, seq, duration in reversed(statuses):
        p = {**params, "CallStatus": status, "SequenceNumber": seq, "CallbackSource": "call-progress-events"}
        if duration:
            p["CallDuration"] = duration
        for _ in range(2):  # each delivered twice
            assert (await fx_sim.post(line.account_sid, line.url("status"), p)).status_code == 204
    assert len(await webhooks(fx_shop, "status")) == 3
    await run_jobs(fx_shop)
    async with tenant_context(fx_shop.tenant):
        calls = await Call.select().where(Call.sid == sid)
    assert len(calls) == 1
    assert calls[0]["status"] == "completed" and calls[0]["duration"] == 37 and calls[0]["last_sequence"] == 2
    assert all(w["processed_at"] is not None for w in await webhooks(fx_shop))


async def test_a_completed_callback_processed_before_the_voice_request_finishes_the_call_once(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    """Jobs run in any order: when the caller's `completed` is handled before the voice request, the call still
    gets its outcome and timeline entry, and no queue item is left waiting for a caller who has gone."""
    line = await connect(fx_client, fx_shop, fx_sim)
    sid = "CA" + secrets.token_hex(16)
    params = _voice_params(line, sid)
    done = {**params, "CallStatus": "completed", "SequenceNumber": "1", "CallDuration": "4"}
    assert (await fx_sim.post(line.account_sid, line.url("status"), done)).status_code == 204
    assert (await fx_sim.post(line.account_sid, line.url("voice"), params)).status_code == 200
    await run_jobs(fx_shop)  # in the order stored: completed, then voice
    async with tenant_context(fx_shop.tenant):
        [call] = await Call.select().where(Call.sid == sid)
    assert (call["status"], call["outcome"], call["duration"], call["conversation"]) == ("completed", "abandoned",
                                                                                          4, None)
    waiting = (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/conversations/waiting", headers=fx_shop.auth)).json()
    assert [w for w in waiting if w["channel"] == "call"] == []
    timeline = (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/contacts/{call['contact']}/timeline",
                                    headers=fx_shop.auth)).json()["items"]
    assert [i["payload"]["outcome"] for i in timeline if i["payload"].get("event") == "ended"] == ["abandoned"]


async def test_a_failing_job_is_retried_and_stays_visible(fx_client: Any, fx_shop: ShopFixture,
                                                          fx_sim: Simulator) -> None:
    """A recording callback that overtakes its call fails (the call is unknown), is retried with back-off by the
    queue, and succeeds once the call's own webhook has been processed."""
    line = await connect(fx_client, fx_shop, fx_sim)
    sid = "CA" + secrets.token_hex(16)
    from telephony.simulator.core import Call as SimCall

    sim_call = SimCall(sid=sid, account_sid=line.account_sid, from_=CUSTOMER, to=line.number, direction="inbound")
    rec = fx_sim._make_recording(sim_call, 3, "DialVerb", 1)
    recording = {"AccountSid": line.account_sid, "CallSid": sid, "RecordingSid": rec.sid,
                 "RecordingUrl": fx_sim.recording_url(rec), "RecordingStatus": "completed", "RecordingDuration": "3",
                 "RecordingChannels": "1", "RecordingSource": "DialVerb"}
    assert (await fx_sim.post(line.account_sid, line.url("recording"), recording)).status_code == 204
    worker = Worker(TEST_DSN, poll_seconds=0.1)
    await worker.start()
    try:
        for _ in range(100):
            [hook] = await webhooks(fx_shop, "recording")
            if hook["attempts"] >= 1:
                break
            await asyncio.sleep(0.05)
        assert hook["processed_at"] is None and "not known yet" in hook["last_error"]
        assert (await fx_sim.post(line.account_sid, line.url("voice"), _voice_params(line, sid))).status_code == 200
        for _ in range(200):
            [hook] = await webhooks(fx_shop, "recording")
            if hook["processed_at"] is not None:
                break
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
    assert hook["processed_at"] is not None and hook["attempts"] >= 2, hook
    async with tenant_context(fx_shop.tenant):
        call = await Call.select().where(Call.sid == sid).first()
    assert call["recording_status"] == "completed" and call["recording_key"]
