"""Calls as Twilio Conferences (issue 14) against the simulator: the badge follows the real call (ringing, in
progress once the operator's phone answers, on hold, ended), warm transfer (connect / come back), supervisors'
listen / whisper / barge, mute and the keypad; participants and their flags as the simulator's REST Participants
list reports them to the twilio library; operators refused, other tenants refused."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import secrets
from typing import Any

import httpx
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from app.accounts import services as accounts
from app.accounts.tables import User
from app.lib.db import raw_connect, tenant_context
from app.lib.jobs import Worker
from telephony import client as twilio_client
from telephony import conference, controls
from telephony.calls import NotReady
from telephony.jobs import process_webhook
from telephony.simulator import Simulator
from telephony.tables import Call
from tests.conftest import TEST_DSN, ShopFixture, browser_login, csrf_from
from tests.integration.telephony_kit import (  # noqa: F401
    CUSTOMER,
    OPERATOR_PHONE,
    Line,
    connect,
    run_jobs,
    sim_fixture,
    webhooks,
)

SECOND_PHONE = "+14155550177"
SUPERVISOR_PHONE = "+14155550166"


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _user(shop: ShopFixture, role: str, name: str) -> tuple[int, dict[str, str]]:
    """A user of `role` with an API key of their own."""
    async with tenant_context(shop.tenant):
        rows = await User.insert(User(email=f"{role}.{secrets.token_hex(3)}@{shop.slug}.example", name=name,
                                      role=role)).returning(User.id)
        _, key = await accounts._insert_api_key(rows[0]["id"], "test")
    return rows[0]["id"], {"Authorization": f"Bearer {key}"}


async def _call_row(shop: ShopFixture, sid: str) -> dict[str, Any]:
    async with tenant_context(shop.tenant):
        row = await Call.select().where(Call.sid == sid).first()
    assert row is not None
    return row


async def _twilio_participants(line: Line, conference_sid: str) -> dict[str, Any]:
    """The conference's participants as the twilio library reads them from the simulator's REST API, by label."""
    def read() -> dict[str, Any]:
        rest = Client(line.account_sid, line.token, http_client=twilio_client.RoutedHttpClient(twilio_client.api_base()))
        return {p.label: p for p in rest.conferences(conference_sid).participants.list()}
    return await asyncio.to_thread(read)


async def _twilio_conference(line: Line, conference_sid: str) -> Any:
    def read() -> Any:
        rest = Client(line.account_sid, line.token, http_client=twilio_client.RoutedHttpClient(twilio_client.api_base()))
        return rest.conferences(conference_sid).fetch()
    return await asyncio.to_thread(read)


async def _line(client: Any, shop: ShopFixture, conversation_id: int, headers: dict[str, str]) -> dict[str, Any]:
    got = await client.get(api(shop, f"/calls/{conversation_id}/participants"), headers=headers)
    assert got.status_code == 200, got.text
    return got.json()


async def _settled(shop: ShopFixture, sim: Simulator) -> None:
    await sim.settle()
    await run_jobs(shop)


async def _taken_call(client: Any, shop: ShopFixture, sim: Simulator, line: Line, headers: dict[str, str],
                      phone: str = OPERATOR_PHONE) -> tuple[Any, Any, int]:
    """A caller queued, accepted by the user of `headers`, whose phone answers: the caller, the leg, the id."""
    call = sim.place_call(CUSTOMER, line.number)
    await sim.until(lambda: call.queue == "general", what="the caller in the queue")
    await run_jobs(shop)
    conversation_id = (await _call_row(shop, call.sid))["conversation"]
    accepted = await client.post(api(shop, f"/calls/{conversation_id}/accept"), headers=headers)
    assert accepted.status_code == 200, accepted.text
    await _settled(shop, sim)
    ringing = await _line(client, shop, conversation_id, headers)
    assert ringing["call"]["state"] == "ringing", "the operator's phone rings: nobody talks to the caller yet"
    leg = await sim.answer(phone)
    await sim.until(lambda: sim.conferences.together(call.sid, leg.sid) is not None, what="the conference")
    await _settled(shop, sim)
    return call, leg, conversation_id


async def test_badge_follows_the_real_call_ringing_in_progress_on_hold_ended(fx_client: Any, fx_shop: ShopFixture,
                                                                           fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    call, leg, conversation_id = await _taken_call(fx_client, fx_shop, fx_sim, line, fx_shop.auth)

    state = await _line(fx_client, fx_shop, conversation_id, fx_shop.auth)
    assert state["call"]["state"] == "in-progress" and state["call"]["answered_at"] is not None
    assert state["call"]["recording_status"] == "in-progress"
    assert {(p["role"], p["status"], p["user"]) for p in state["participants"]} == {
        ("customer", "joined", None), ("operator", "joined", fx_shop.user_id)}
    row = await _call_row(fx_shop, call.sid)
    assert row["status"] == "in-progress" and row["conference_sid"].startswith("CF")
    participants = await _twilio_participants(line, row["conference_sid"])
    assert set(participants) == {"customer", f"operator-{fx_shop.user_id}"}
    assert participants["customer"].call_sid == call.sid and participants[f"operator-{fx_shop.user_id}"].call_sid == leg.sid
    assert participants["customer"].end_conference_on_exit is True
    assert participants[f"operator-{fx_shop.user_id}"].end_conference_on_exit is True  # their hang-up ends the call
    assert all(p.status == "connected" and not p.hold and not p.muted for p in participants.values())

    async with httpx.AsyncClient(base_url=twilio_client.api_base()) as page:  # the simulator's phone page
        phones = {c["sid"]: c for c in (await page.get("/sim/state")).json()["calls"]}
    assert phones[leg.sid]["conference"] == row["conference_name"] and phones[leg.sid]["others"] == 1

    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    await csrf_from(fx_client, f"/t/{fx_shop.slug}/console/")
    mine = (await fx_client.get(f"/t/{fx_shop.slug}/console/panels/mine", headers={"accept": "text/html"})).text
    assert 'data-call-state="in-progress"' in mine and 'data-testid="call-timer"' in mine
    assert 'data-testid="recording-dot"' in mine and 'data-testid="on-line-operator"' in mine

    held = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/hold"), json={"on": True},
                                headers=fx_shop.auth)
    assert held.status_code == 200, held.text
    await fx_sim.until(lambda: call.held, what="the caller on hold")
    await _settled(fx_shop, fx_sim)
    assert (await _line(fx_client, fx_shop, conversation_id, fx_shop.auth))["call"]["state"] == "on-hold"
    participants = await _twilio_participants(line, row["conference_sid"])
    assert participants["customer"].hold is True and participants[f"operator-{fx_shop.user_id}"].hold is False
    assert leg.status == "in-progress", "the operator stays on the line while the caller hears music"
    assert call.heard[-1].startswith("[play ") and call.heard[-1].endswith("/telephony/hold-music.wav]")

    resumed = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/hold"), json={"on": False},
                                   headers=fx_shop.auth)
    assert resumed.status_code == 200, resumed.text
    await _settled(fx_shop, fx_sim)
    assert (await _line(fx_client, fx_shop, conversation_id, fx_shop.auth))["call"]["state"] == "in-progress"
    assert (await _twilio_participants(line, row["conference_sid"]))["customer"].hold is False

    fx_sim.clock.advance(30)
    await fx_sim.hangup(call.sid)
    await fx_sim.until(lambda: leg.status == "completed", what="the operator's leg to end with the conference")
    await _settled(fx_shop, fx_sim)
    ended = await _line(fx_client, fx_shop, conversation_id, fx_shop.auth)
    assert ended["call"]["state"] == "ended" and ended["participants"] == []
    room = await _twilio_conference(line, row["conference_sid"])
    assert room.status == "completed" and room.reason_conference_ended == "participant-with-end-conference-on-exit-left"
    assert room.call_sid_ending_conference == call.sid
    row = await _call_row(fx_shop, call.sid)
    assert row["outcome"] == "answered" and row["recording_status"] == "completed" and row["recording_duration"] >= 30
    mine = (await fx_client.get(f"/t/{fx_shop.slug}/console/panels/mine", headers={"accept": "text/html"})).text
    assert 'data-call-state="ended"' in mine and 'data-testid="wrapup-timer"' in mine
    assert 'data-testid="disposition-resolved"' in mine
    async with tenant_context(fx_shop.tenant):  # the workspace renders the same partial from this
        panel = await controls.call_panel(conversation_id)
    assert panel["call"]["state"] == "ended" and "resolved" in panel["dispositions"]
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/console/")
    wrapped = await fx_client.post(f"/t/{fx_shop.slug}/console/wrapup/{conversation_id}",
                                   data={"code": "resolved", "note": ""}, headers={"X-CSRF-Token": token})
    assert "Wrapped up" in wrapped.text
    conv = (await fx_client.get(api(fx_shop, f"/conversations/{conversation_id}"), headers=fx_shop.auth)).json()
    assert conv["status"] == "closed" and conv["wrapup_code"] == "resolved"


async def _attempt_jobs(shop: ShopFixture) -> list[tuple[int, str, str]]:
    """Take the shop's queued webhook jobs off the queue and run each once, as the worker would, noting each one's
    webhook id, kind and the exception it raised ('' when it went through)."""
    conn = await raw_connect(TEST_DSN)
    try:
        rows = await conn.fetch(
            "DELETE FROM public.pgqueuer WHERE entrypoint = 'telephony.process_webhook' "
            "AND convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1 RETURNING id, payload", shop.slug)
    finally:
        await conn.close()
    ran: list[tuple[int, str, str]] = []
    for row in sorted(rows, key=lambda r: r["id"]):
        payload = json.loads(row["payload"])
        try:
            await process_webhook(payload)
            outcome = ""
        except NotReady:
            outcome = "NotReady"
        ran.append((int(payload["webhook_id"]), "", outcome))
    kinds = {w["id"]: w["kind"] for w in await webhooks(shop)}
    return [(wid, kinds[wid], outcome) for wid, _, outcome in ran]


async def test_callbacks_that_come_before_the_accept_commits_still_make_the_call_in_progress(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator, monkeypatch: Any) -> None:
    """Issue 14's race, made deterministic: the operator's phone answers while the accept's transaction is still
    open, so the conference callbacks' jobs run before the call's conference is committed and are retried (NotReady);
    the retries then run in the worst order (newest first: Twilio does not order callbacks, nor does a queue running
    retries side by side). The call still ends up in progress with the caller and the operator on the line."""
    line = await connect(fx_client, fx_shop, fx_sim)
    call = fx_sim.place_call(CUSTOMER, line.number)
    await fx_sim.until(lambda: call.queue == "general", what="the caller in the queue")
    await run_jobs(fx_shop)
    conversation_id = (await _call_row(fx_shop, call.sid))["conversation"]
    early: list[tuple[int, str, str]] = []
    into_conference = controls._into_conference

    async def answered_before_commit(config: Any, row: dict[str, Any], user_id: int, device: dict[str, Any]) -> None:
        await into_conference(config, row, user_id, device)
        leg = await fx_sim.answer(OPERATOR_PHONE)
        await fx_sim.until(lambda: fx_sim.conferences.together(call.sid, leg.sid) is not None, what="the conference")
        await fx_sim.settle()
        # The worker runs the callbacks' jobs now, on connections of its own, before this transaction commits.
        early.extend(await asyncio.create_task(_attempt_jobs(fx_shop), context=contextvars.Context()))

    monkeypatch.setattr(controls, "_into_conference", answered_before_commit)
    accepted = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/accept"), headers=fx_shop.auth)
    assert accepted.status_code == 200, accepted.text
    not_ready = [wid for wid, kind, outcome in early if kind == "conference" and outcome == "NotReady"]
    assert len(not_ready) >= 3, early  # the caller's join, the operator's join, the conference's start

    for webhook_id in sorted(not_ready, reverse=True):  # the retries, newest first
        await process_webhook({"tenant": fx_shop.slug, "webhook_id": webhook_id})
    await _settled(fx_shop, fx_sim)
    state = await _line(fx_client, fx_shop, conversation_id, fx_shop.auth)
    assert state["call"]["state"] == "in-progress" and state["call"]["answered_at"] is not None
    assert {(p["role"], p["status"], p["user"]) for p in state["participants"]} == {
        ("customer", "joined", None), ("operator", "joined", fx_shop.user_id)}
    assert all(w["processed_at"] is not None for w in await webhooks(fx_shop, "conference"))


async def test_the_workers_retries_of_early_callbacks_converge_whichever_takes_the_call_first(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator, monkeypatch: Any) -> None:
    """The same race through the real job queue, as the live server runs it: the callbacks fail NotReady while the
    accept is open, PgQueuer retries them a second later side by side, and (as on a loaded machine) the conference's
    start takes the call's row before the joins do. Every retry runs once and the call is in progress."""
    line = await connect(fx_client, fx_shop, fx_sim)
    call = fx_sim.place_call(CUSTOMER, line.number)
    await fx_sim.until(lambda: call.queue == "general", what="the caller in the queue")
    await run_jobs(fx_shop)
    conversation_id = (await _call_row(fx_shop, call.sid))["conversation"]
    into_conference = controls._into_conference
    find_call = conference._call_of_conference
    committed, started = asyncio.Event(), asyncio.Event()

    async def answered_before_commit(config: Any, row: dict[str, Any], user_id: int, device: dict[str, Any]) -> None:
        await into_conference(config, row, user_id, device)
        leg = await fx_sim.answer(OPERATOR_PHONE)
        await fx_sim.until(lambda: fx_sim.conferences.together(call.sid, leg.sid) is not None, what="the conference")
        await fx_sim.settle()
        for _ in range(200):  # the worker has tried each of them once
            tried = await webhooks(fx_shop, "conference")
            if len(tried) >= 3 and all(w["attempts"] >= 1 for w in tried):
                break
            await asyncio.sleep(0.05)
        assert all("NotReady" in w["last_error"] and w["processed_at"] is None for w in tried), tried

    async def start_first(p: dict[str, str]) -> dict[str, Any] | None:
        if committed.is_set() and p.get("StatusCallbackEvent") == "participant-join":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(started.wait(), 3)
        found = await find_call(p)
        if found is not None and p.get("StatusCallbackEvent") == "conference-start":
            started.set()
        return found

    monkeypatch.setattr(controls, "_into_conference", answered_before_commit)
    monkeypatch.setattr(conference, "_call_of_conference", start_first)
    worker = Worker(TEST_DSN, poll_seconds=1.0)  # as the live server's embedded worker
    await worker.start()
    try:
        accepted = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/accept"), headers=fx_shop.auth)
        assert accepted.status_code == 200, accepted.text
        committed.set()
        for _ in range(300):
            if all(w["processed_at"] is not None for w in await webhooks(fx_shop, "conference")):
                break
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
    assert started.is_set()
    assert [w["attempts"] for w in await webhooks(fx_shop, "conference")] == [2, 2, 2]
    state = await _line(fx_client, fx_shop, conversation_id, fx_shop.auth)
    assert state["call"]["state"] == "in-progress" and state["call"]["answered_at"] is not None
    assert {(p["role"], p["status"], p["user"]) for p in state["participants"]} == {
        ("customer", "joined", None), ("operator", "joined", fx_shop.user_id)}


async def test_late_conference_callbacks_never_undo_newer_ones(fx_client: Any, fx_shop: ShopFixture,
                                                                 fx_sim: Simulator) -> None:
    """Out-of-order callbacks on a live call: a participant's flags come from its own newest event (an unhold that
    overtook its hold leaves the caller talking), and a participant who left stays off the line whatever older
    event of theirs arrives after; another participant's newer events never make these stale."""
    line = await connect(fx_client, fx_shop, fx_sim)
    call, leg, conversation_id = await _taken_call(fx_client, fx_shop, fx_sim, line, fx_shop.auth)
    row = await _call_row(fx_shop, call.sid)
    base = {"AccountSid": line.account_sid, "ConferenceSid": row["conference_sid"],
            "FriendlyName": row["conference_name"], "Muted": "false", "Hold": "false", "Coaching": "false"}
    caller = {**base, "CallSid": call.sid, "ParticipantLabel": "customer"}
    operator = {**base, "CallSid": leg.sid, "ParticipantLabel": f"operator-{fx_shop.user_id}"}

    async def deliver(params: dict[str, str]) -> None:
        signed = RequestValidator(line.token).compute_signature(line.url("conference"), params)
        stored = await fx_client.post(line.url("conference"), data=params, headers={"X-Twilio-Signature": signed})
        assert stored.status_code == 204
        await run_jobs(fx_shop)

    await deliver({**operator, "StatusCallbackEvent": "participant-mute", "Muted": "true", "SequenceNumber": "40"})
    await deliver({**caller, "StatusCallbackEvent": "participant-hold", "Hold": "true", "SequenceNumber": "30"})
    state = await _line(fx_client, fx_shop, conversation_id, fx_shop.auth)
    assert state["call"]["state"] == "on-hold", "the operator's newer mute does not make the caller's hold stale"
    await deliver({**caller, "StatusCallbackEvent": "participant-unhold", "SequenceNumber": "32"})
    await deliver({**caller, "StatusCallbackEvent": "participant-hold", "Hold": "true", "SequenceNumber": "31"})
    state = await _line(fx_client, fx_shop, conversation_id, fx_shop.auth)
    assert state["call"]["state"] == "in-progress", "the hold is older than the unhold that came first"
    seats = {p["role"]: p for p in state["participants"]}
    assert seats["customer"]["hold"] is False and seats["operator"]["muted"] is True

    await deliver({**operator, "StatusCallbackEvent": "participant-leave", "SequenceNumber": "51"})
    await deliver({**operator, "StatusCallbackEvent": "participant-unmute", "SequenceNumber": "50"})
    await deliver({**operator, "StatusCallbackEvent": "participant-join", "SequenceNumber": "49"})
    state = await _line(fx_client, fx_shop, conversation_id, fx_shop.auth)
    assert [p["role"] for p in state["participants"]] == ["customer"], "the operator left; older events change nothing"


async def test_warm_transfer_come_back_then_connect(fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    colleague, colleague_auth = await _user(fx_shop, "operator", "Olga Colleague")
    line = await connect(fx_client, fx_shop, fx_sim, devices=[
        {"user_id": fx_shop.user_id, "address": OPERATOR_PHONE}, {"user_id": colleague, "address": SECOND_PHONE}])
    call, first_leg, conversation_id = await _taken_call(fx_client, fx_shop, fx_sim, line, fx_shop.auth)
    cf = (await _call_row(fx_shop, call.sid))["conference_sid"]
    me, olga = f"operator-{fx_shop.user_id}", f"transfer-{colleague}"

    asked = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/warm-transfer"), json={"user_id": colleague},
                                 headers=fx_shop.auth)
    assert asked.status_code == 200, asked.text
    early = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/warm-transfer/connect"), headers=fx_shop.auth)
    assert early.status_code == 400 and "not answered" in early.json()["detail"]
    second_leg = await fx_sim.answer(SECOND_PHONE)
    await fx_sim.until(lambda: fx_sim.conferences.together(first_leg.sid, second_leg.sid) is not None,
                       what="the colleague on the line")
    await _settled(fx_shop, fx_sim)
    participants = await _twilio_participants(line, cf)
    assert set(participants) == {"customer", me, olga}
    assert participants["customer"].hold is True, "the caller hears music while the operators talk"
    assert not participants[me].hold and not participants[olga].hold and not participants[olga].muted
    state = await _line(fx_client, fx_shop, conversation_id, fx_shop.auth)
    assert state["call"]["state"] == "on-hold"
    assert ("transfer", "joined", colleague) in {(p["role"], p["status"], p["user"]) for p in state["participants"]}

    back = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/warm-transfer/back"), headers=fx_shop.auth)
    assert back.status_code == 200, back.text
    await fx_sim.until(lambda: second_leg.status == "completed" and not call.held, what="the colleague to leave")
    await _settled(fx_shop, fx_sim)
    participants = await _twilio_participants(line, cf)
    assert set(participants) == {"customer", me} and participants["customer"].hold is False
    assert (await _line(fx_client, fx_shop, conversation_id, fx_shop.auth))["call"]["state"] == "in-progress"

    again = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/warm-transfer"), json={"user_id": colleague},
                                 headers=fx_shop.auth)
    assert again.status_code == 200, again.text
    twice = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/warm-transfer"), json={"user_id": colleague},
                                 headers=fx_shop.auth)
    assert twice.status_code == 409
    third_leg = await fx_sim.answer(SECOND_PHONE)
    await fx_sim.until(lambda: fx_sim.conferences.together(first_leg.sid, third_leg.sid) is not None,
                       what="the colleague on the line again")
    await _settled(fx_shop, fx_sim)
    connected = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/warm-transfer/connect"),
                                     headers=fx_shop.auth)
    assert connected.status_code == 200, connected.text
    await fx_sim.until(lambda: first_leg.status == "completed" and not call.held, what="the first operator to leave")
    await _settled(fx_shop, fx_sim)
    assert fx_sim.conferences.together(call.sid, third_leg.sid) is not None
    participants = await _twilio_participants(line, cf)
    assert set(participants) == {"customer", olga} and participants["customer"].hold is False
    assert participants[olga].end_conference_on_exit is True, "the colleague's hang-up now ends the call"
    conv = (await fx_client.get(api(fx_shop, f"/conversations/{conversation_id}"), headers=fx_shop.auth)).json()
    assert conv["assigned_to_id"] == colleague
    state = await _line(fx_client, fx_shop, conversation_id, colleague_auth)
    assert state["call"]["operator"] == colleague and state["call"]["state"] == "in-progress"
    assert {(p["role"], p["user"]) for p in state["participants"]} == {("customer", None), ("operator", colleague)}
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{conv['contact_id']}/timeline"),
                                    headers=fx_shop.auth)).json()["items"]
    summaries = [i["summary"] for i in timeline]
    for expected in ("asked Olga Colleague to take the call", "came back to the caller",
                     "connected the caller to a colleague", "Transferred to Olga Colleague"):
        assert any(expected in s for s in summaries), (expected, summaries)


async def test_supervisor_listens_whispers_barges_and_operators_are_refused(fx_client: Any, fx_shop: ShopFixture,
                                                                           fx_sim: Simulator) -> None:
    operator, operator_auth = await _user(fx_shop, "operator", "Oscar Operator")
    supervisor, supervisor_auth = await _user(fx_shop, "supervisor", "Sonia Supervisor")
    line = await connect(fx_client, fx_shop, fx_sim, devices=[
        {"user_id": operator, "address": OPERATOR_PHONE}, {"user_id": supervisor, "address": SUPERVISOR_PHONE}])
    call, operator_leg, conversation_id = await _taken_call(fx_client, fx_shop, fx_sim, line, operator_auth)
    cf = (await _call_row(fx_shop, call.sid))["conference_sid"]
    sonia = f"supervisor-{supervisor}"

    for mode in ("listen", "whisper", "barge"):
        refused = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/monitor"), json={"mode": mode},
                                       headers=operator_auth)
        assert refused.status_code == 403, refused.text
    assert (await fx_client.get(api(fx_shop, "/calls/live"), headers=operator_auth)).status_code == 403
    wrong = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/monitor"), json={"mode": "shout"},
                                 headers=supervisor_auth)
    assert wrong.status_code == 400 and "listen, whisper or barge" in wrong.json()["detail"]

    live = (await fx_client.get(api(fx_shop, "/calls/live"), headers=supervisor_auth)).json()
    assert [c["call"]["conversation"] for c in live] == [conversation_id]

    listen = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/monitor"), json={"mode": "listen"},
                                  headers=supervisor_auth)
    assert listen.status_code == 200, listen.text
    supervisor_leg = await fx_sim.answer(SUPERVISOR_PHONE)
    await fx_sim.until(lambda: fx_sim.conferences.together(call.sid, supervisor_leg.sid) is not None,
                       what="the supervisor in the conference")
    await _settled(fx_shop, fx_sim)
    p = (await _twilio_participants(line, cf))[sonia]
    assert (p.muted, p.coaching, p.call_sid_to_coach, p.call_sid) == (True, False, None, supervisor_leg.sid)
    assert p.end_conference_on_exit is False, "a supervisor leaving never ends the call"
    seen = await _line(fx_client, fx_shop, conversation_id, operator_auth)  # the operator sees who is on the line
    assert ("supervisor", supervisor, True, False) in {(x["role"], x["user"], x["muted"], x["coaching"])
                                                       for x in seen["participants"]}
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    await csrf_from(fx_client, f"/t/{fx_shop.slug}/console/")
    team = (await fx_client.get(f"/t/{fx_shop.slug}/console/panels/presence", headers={"accept": "text/html"})).text
    assert 'data-testid="live-call"' in team and 'data-testid="monitor-whisper"' in team
    assert "Sonia Supervisor" in team and "listening" in team

    whisper = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/monitor"), json={"mode": "whisper"},
                                   headers=supervisor_auth)
    assert whisper.status_code == 200, whisper.text
    await _settled(fx_shop, fx_sim)
    p = (await _twilio_participants(line, cf))[sonia]
    assert (p.muted, p.coaching, p.call_sid_to_coach) == (False, True, operator_leg.sid)
    assert any(x["role"] == "supervisor" and x["coaching"]
               for x in (await _line(fx_client, fx_shop, conversation_id, operator_auth))["participants"])

    barge = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/monitor"), json={"mode": "barge"},
                                 headers=supervisor_auth)
    assert barge.status_code == 200, barge.text
    await _settled(fx_shop, fx_sim)
    participants = await _twilio_participants(line, cf)
    assert (participants[sonia].muted, participants[sonia].coaching) == (False, False)
    assert set(participants) == {"customer", f"operator-{operator}", sonia}
    assert len([r for r in fx_sim.calls.values() if r.to == SUPERVISOR_PHONE]) == 1, "switching modes rang once"

    left = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/monitor/leave"), headers=supervisor_auth)
    assert left.status_code == 200, left.text
    await fx_sim.until(lambda: supervisor_leg.status == "completed", what="the supervisor's leg to end")
    await _settled(fx_shop, fx_sim)
    assert set(await _twilio_participants(line, cf)) == {"customer", f"operator-{operator}"}
    assert operator_leg.status == "in-progress" and call.status == "in-progress"


async def test_mute_and_keypad_through_the_conference(fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    call, leg, conversation_id = await _taken_call(fx_client, fx_shop, fx_sim, line, fx_shop.auth)
    cf = (await _call_row(fx_shop, call.sid))["conference_sid"]
    me = f"operator-{fx_shop.user_id}"

    muted = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/mute"), json={"on": True},
                                 headers=fx_shop.auth)
    assert muted.status_code == 200, muted.text
    assert (await _twilio_participants(line, cf))[me].muted is True
    again = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/mute"), json={"on": True},
                                 headers=fx_shop.auth)
    assert again.status_code == 400
    await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/mute"), json={"on": False}, headers=fx_shop.auth)
    assert (await _twilio_participants(line, cf))[me].muted is False

    tones = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/digits"), json={"digits": "12#"},
                                 headers=fx_shop.auth)
    assert tones.status_code == 200, tones.text
    await fx_sim.until(lambda: call.dtmf_heard == "12#", what="the caller's phone to hear the tones")
    assert leg.dtmf_heard == "", "only the caller's leg hears the announcement"
    announce = [w for w in fx_sim.webhook_log if "/announce" in w["url"]]
    assert announce and announce[-1]["status"] == 200, "Twilio fetched the signed announcement URL"
    assert fx_sim.conferences.together(call.sid, leg.sid) is not None, "the caller stayed in the conference"
    for bad in ("", "12a", "1" * 33):
        refused = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/digits"), json={"digits": bad},
                                       headers=fx_shop.auth)
        assert refused.status_code == 400, (bad, refused.text)
    forged = await fx_client.post(f"/t/{fx_shop.slug}/webhooks/twilio/announce?digits=1",
                                  headers={"X-Twilio-Signature": "forged"})
    assert forged.status_code == 403


async def test_other_tenants_cannot_touch_a_call(fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture,
                                                 fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    call, leg, conversation_id = await _taken_call(fx_client, fx_shop, fx_sim, line, fx_shop.auth)
    attempts = [("POST", f"/calls/{conversation_id}/monitor", {"mode": "listen"}),
                ("POST", f"/calls/{conversation_id}/monitor/leave", None),
                ("POST", f"/calls/{conversation_id}/warm-transfer", {"user_id": fx_other_shop.user_id}),
                ("POST", f"/calls/{conversation_id}/warm-transfer/connect", None),
                ("POST", f"/calls/{conversation_id}/warm-transfer/back", None),
                ("POST", f"/calls/{conversation_id}/mute", {"on": True}),
                ("POST", f"/calls/{conversation_id}/digits", {"digits": "1"}),
                ("POST", f"/calls/{conversation_id}/hold", {"on": True}),
                ("GET", f"/calls/{conversation_id}/participants", None),
                ("GET", "/calls/live", None)]
    for method, path, body in attempts:
        # B's key on A's URL: the unknown-tenant 404; B's key on B's URL with A's id: nothing of A's is there.
        on_a = await fx_client.request(method, api(fx_shop, path), headers=fx_other_shop.auth, json=body)
        assert on_a.status_code == 404, (path, on_a.text)
        on_b = await fx_client.request(method, api(fx_other_shop, path), headers=fx_other_shop.auth, json=body)
        assert on_b.status_code in (404, 400) if path != "/calls/live" else on_b.status_code == 200, (path, on_b.text)
        if path == "/calls/live":
            assert on_b.json() == []
    await browser_login(fx_client, fx_other_shop.slug, fx_other_shop.email, fx_other_shop.password)
    token = await csrf_from(fx_client, f"/t/{fx_other_shop.slug}/console/")
    for step in ("monitor", "mute", "digits", "warm-transfer", "warm-transfer/connect", "warm-transfer/back"):
        answer = await fx_client.post(f"/t/{fx_other_shop.slug}/console/calls/{conversation_id}/{step}",
                                      data={"mode": "listen", "on": "1", "digits": "1", "user_id": "1"},
                                      headers={"X-CSRF-Token": token})
        assert answer.status_code in (400, 404), (step, answer.text)
        foreign = await fx_client.post(f"/t/{fx_shop.slug}/console/calls/{conversation_id}/{step}",
                                       data={"mode": "listen"}, headers={"X-CSRF-Token": token})
        assert foreign.status_code in (401, 403, 404), (step, foreign.status_code)
    cf = (await _call_row(fx_shop, call.sid))["conference_sid"]
    participants = await _twilio_participants(line, cf)
    assert set(participants) == {"customer", f"operator-{fx_shop.user_id}"}, "nothing reached shop A's call"
    assert not any(p.muted or p.hold for p in participants.values())
    assert leg.status == "in-progress" and not call.held


async def test_an_operator_phone_that_never_answers_sends_the_caller_back_to_the_queue(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    call = fx_sim.place_call(CUSTOMER, line.number)
    await fx_sim.until(lambda: call.queue == "general", what="the caller in the queue")
    await run_jobs(fx_shop)
    conversation_id = (await _call_row(fx_shop, call.sid))["conversation"]
    accepted = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/accept"), headers=fx_shop.auth)
    assert accepted.status_code == 200, accepted.text
    await fx_sim.until(lambda: bool(fx_sim.ringing(OPERATOR_PHONE)), what="the operator's phone to ring")
    leg = fx_sim.ringing(OPERATOR_PHONE)[0]
    await fx_sim.hangup(leg.sid)  # declined: Twilio ends the participant's call before it joins
    await _settled(fx_shop, fx_sim)
    await fx_sim.until(lambda: call.queue == "general", what="the caller back in the queue")
    await run_jobs(fx_shop)
    conv = (await fx_client.get(api(fx_shop, f"/conversations/{conversation_id}"), headers=fx_shop.auth)).json()
    assert conv["status"] == "waiting" and conv["assigned_to_id"] is None
    state = await _line(fx_client, fx_shop, conversation_id, fx_shop.auth)
    assert state["call"]["state"] == "ringing" and state["participants"] == [] and state["call"]["operator"] is None
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{conv['contact_id']}/timeline"),
                                    headers=fx_shop.auth)).json()["items"]
    assert any("did not answer" in i["summary"] and "back in the queue" in i["summary"] for i in timeline)
    again = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/accept"), headers=fx_shop.auth)
    assert again.status_code == 200, again.text
    second = await fx_sim.answer(OPERATOR_PHONE)
    await fx_sim.until(lambda: fx_sim.conferences.together(call.sid, second.sid) is not None, what="the conference")
    await _settled(fx_shop, fx_sim)
    assert (await _line(fx_client, fx_shop, conversation_id, fx_shop.auth))["call"]["state"] == "in-progress"


async def test_the_operator_hanging_up_their_phone_ends_the_call(fx_client: Any, fx_shop: ShopFixture,
                                                                 fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    call, leg, conversation_id = await _taken_call(fx_client, fx_shop, fx_sim, line, fx_shop.auth)
    cf = (await _call_row(fx_shop, call.sid))["conference_sid"]
    assert (await _twilio_participants(line, cf))[f"operator-{fx_shop.user_id}"].end_conference_on_exit is True
    await fx_sim.hangup(leg.sid)
    await fx_sim.until(lambda: call.status == "completed", what="the caller's leg to end with the conference")
    await _settled(fx_shop, fx_sim)
    assert (await _line(fx_client, fx_shop, conversation_id, fx_shop.auth))["call"]["state"] == "ended"
    room = await _twilio_conference(line, cf)
    assert room.status == "completed" and room.call_sid_ending_conference == leg.sid


async def test_console_buttons_mute_keypad_warm_transfer_and_supervise(fx_client: Any, fx_shop: ShopFixture,
                                                                       fx_sim: Simulator) -> None:
    colleague, _ = await _user(fx_shop, "operator", "Olga Colleague")
    line = await connect(fx_client, fx_shop, fx_sim, devices=[
        {"user_id": fx_shop.user_id, "address": OPERATOR_PHONE}, {"user_id": colleague, "address": SECOND_PHONE}])
    call, leg, conversation_id = await _taken_call(fx_client, fx_shop, fx_sim, line, fx_shop.auth)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/console/")
    headers = {"X-CSRF-Token": token}
    base = f"/t/{fx_shop.slug}/console/calls/{conversation_id}"

    mine = (await fx_client.get(f"/t/{fx_shop.slug}/console/panels/mine", headers={"accept": "text/html"})).text
    for button in ("mute", "hold", "keypad", "warm-transfer", "transfer-call", "hang-up"):
        assert f'data-testid="{button}"' in mine, button
    assert "You are muted." in (await fx_client.post(f"{base}/mute", data={"on": "1"}, headers=headers)).text
    assert 'data-testid="unmute"' in (await fx_client.get(f"/t/{fx_shop.slug}/console/panels/mine",
                                                          headers={"accept": "text/html"})).text
    assert "no longer muted" in (await fx_client.post(f"{base}/mute", data={"on": "0"}, headers=headers)).text
    sent = await fx_client.post(f"{base}/digits", data={"digits": "42#"}, headers=headers)
    assert "Tones sent: 42#" in sent.text
    await fx_sim.until(lambda: call.dtmf_heard == "42#", what="the tones")
    bad = await fx_client.post(f"{base}/digits", data={"digits": "hello"}, headers=headers)
    assert bad.status_code == 400 and "0-9" in bad.text

    asked = await fx_client.post(f"{base}/warm-transfer", data={"user_id": str(colleague)}, headers=headers)
    assert "your colleague&#39;s phone rings" in asked.text, asked.text
    second = await fx_sim.answer(SECOND_PHONE)
    await fx_sim.until(lambda: fx_sim.conferences.together(leg.sid, second.sid) is not None, what="the colleague")
    await _settled(fx_shop, fx_sim)
    mine = (await fx_client.get(f"/t/{fx_shop.slug}/console/panels/mine", headers={"accept": "text/html"})).text
    assert 'data-testid="warm-connect"' in mine and 'data-testid="warm-back"' in mine
    assert 'data-testid="on-line-transfer"' in mine and "Olga Colleague" in mine and 'data-call-state="on-hold"' in mine
    back = await fx_client.post(f"{base}/warm-transfer/back", headers=headers)
    assert "You are back with the caller." in back.text
    await fx_sim.until(lambda: second.status == "completed", what="the colleague to leave")

    # The owner is an admin: a supervisor too, so the team panel lists the live call with the supervisor buttons.
    listened = await fx_client.post(f"{base}/monitor", data={"mode": "listen"}, headers=headers)
    assert listened.status_code == 400 and "on this call already" in listened.text  # they handle it
    wrong = await fx_client.post(f"{base}/monitor", data={"mode": "shout"}, headers=headers)
    assert wrong.status_code == 400 and "listen, whisper or barge" in wrong.text


async def test_conference_callbacks_of_shop_a_are_refused_by_shop_b_and_replays_are_no_ops(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    other = await connect(fx_client, fx_other_shop, fx_sim)
    call, leg, conversation_id = await _taken_call(fx_client, fx_shop, fx_sim, line, fx_shop.auth)
    joins = [w for w in fx_sim.webhook_log if w["url"].endswith("/conference")
             and w["params"]["StatusCallbackEvent"] == "participant-join"]
    assert {w["params"]["CallSid"] for w in joins} == {call.sid, leg.sid}
    join = joins[-1]["params"]
    # Shop A's signed callback, replayed at shop B (signed with A's token for B's URL): refused, nothing stored.
    for url in (other.url("conference"), other.url("participant-status"), other.url("announce") + "?digits=1"):
        signed = RequestValidator(line.token).compute_signature(url, join)
        refused = await fx_client.post(url, data=join, headers={"X-Twilio-Signature": signed})
        assert refused.status_code == 403, url
    assert await webhooks(fx_other_shop) == []
    # The same callback delivered twice to A is stored once.
    before = len(await webhooks(fx_shop, "conference"))
    signed = RequestValidator(line.token).compute_signature(line.url("conference"), join)
    again = await fx_client.post(line.url("conference"), data=join, headers={"X-Twilio-Signature": signed})
    assert again.status_code == 204 and len(await webhooks(fx_shop, "conference")) == before
    # An out-of-date hold event (lower SequenceNumber than what was applied) changes nothing.
    stale = {**join, "StatusCallbackEvent": "participant-hold", "Hold": "true", "CallSid": call.sid,
             "SequenceNumber": "0", "ParticipantLabel": "customer"}
    signed = RequestValidator(line.token).compute_signature(line.url("conference"), stale)
    stored = await fx_client.post(line.url("conference"), data=stale, headers={"X-Twilio-Signature": signed})
    assert stored.status_code == 204
    await run_jobs(fx_shop)
    assert (await _line(fx_client, fx_shop, conversation_id, fx_shop.auth))["call"]["state"] == "in-progress"


async def test_cold_transfers_move_the_caller_to_a_new_conference_or_back_to_the_queue(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    colleague, colleague_auth = await _user(fx_shop, "operator", "Olga Colleague")
    line = await connect(fx_client, fx_shop, fx_sim, devices=[
        {"user_id": fx_shop.user_id, "address": OPERATOR_PHONE}, {"user_id": colleague, "address": SECOND_PHONE}])
    call, leg, conversation_id = await _taken_call(fx_client, fx_shop, fx_sim, line, fx_shop.auth)
    first = await _call_row(fx_shop, call.sid)
    moved = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/transfer"), json={"user_id": colleague},
                                 headers=fx_shop.auth)
    assert moved.status_code == 200, moved.text
    second = await fx_sim.answer(SECOND_PHONE)
    await fx_sim.until(lambda: fx_sim.conferences.together(call.sid, second.sid) is not None
                       and leg.status == "completed", what="the caller with the colleague only")
    await _settled(fx_shop, fx_sim)
    row = await _call_row(fx_shop, call.sid)
    assert row["conference_name"] != first["conference_name"] and row["conference_sid"] != first["conference_sid"]
    assert (await _twilio_conference(line, first["conference_sid"])).status == "completed"
    state = await _line(fx_client, fx_shop, conversation_id, colleague_auth)
    assert {(p["role"], p["user"], p["status"]) for p in state["participants"]} == {
        ("customer", None, "joined"), ("operator", colleague, "joined")}
    assert state["call"]["state"] == "in-progress"

    queued = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/transfer"), json={"queue": "general"},
                                  headers=fx_shop.auth)
    assert queued.status_code == 200, queued.text
    await fx_sim.until(lambda: call.queue == "general" and second.status == "completed", what="the caller queued")
    await _settled(fx_shop, fx_sim)
    state = await _line(fx_client, fx_shop, conversation_id, fx_shop.auth)
    assert state["participants"] == [] and state["call"]["conference_name"] == ""


async def test_click_to_call_is_a_conference_call_with_the_same_controls(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture, fx_sim: Simulator) -> None:
    """Click-to-call (issue 14): the operator's phone rings first and starts the conference; their join adds the
    customer from the shop's number; the call has an active conversation of the operator's, so hold, warm transfer
    and the badge work on it as on an inbound call, and another tenant cannot touch it."""
    colleague, colleague_auth = await _user(fx_shop, "operator", "Olga Colleague")
    line = await connect(fx_client, fx_shop, fx_sim, devices=[
        {"user_id": fx_shop.user_id, "address": OPERATOR_PHONE}, {"user_id": colleague, "address": SECOND_PHONE}])
    contact = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Cleo Outbound", "phones": [CUSTOMER]},
                                    headers=fx_shop.auth)).json()
    placed = await fx_client.post(api(fx_shop, f"/contacts/{contact['id']}/call"), json={}, headers=fx_shop.auth)
    assert placed.status_code == 201, placed.text
    conversation_id = placed.json()["conversation"]
    conv = (await fx_client.get(api(fx_shop, f"/conversations/{conversation_id}"), headers=fx_shop.auth)).json()
    assert (conv["channel"], conv["status"], conv["assigned_to_id"], conv["contact_id"]) == (
        "call", "active", fx_shop.user_id, contact["id"])
    await _settled(fx_shop, fx_sim)
    assert (await _line(fx_client, fx_shop, conversation_id, fx_shop.auth))["call"]["state"] == "ringing"
    assert not fx_sim.ringing(CUSTOMER), "the customer is rung only once the operator is on the line"
    for path, body in (("/hold", {"on": True}), ("/transfer", {"queue": "general"}), ("/digits", {"digits": "1"})):
        early = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}{path}"), json=body, headers=fx_shop.auth)
        assert early.status_code == 400 and "not on the line" in early.json()["detail"], (path, early.text)

    first_leg = await fx_sim.answer(OPERATOR_PHONE)
    await _settled(fx_shop, fx_sim)  # the operator's join adds the customer
    state = await _line(fx_client, fx_shop, conversation_id, fx_shop.auth)
    assert state["call"]["state"] == "ringing", "nobody talks until the customer answers"
    assert {(p["role"], p["status"]) for p in state["participants"]} == {("operator", "joined"),
                                                                        ("customer", "ringing")}
    customer = await fx_sim.answer(CUSTOMER)
    assert customer.from_ == line.number
    await fx_sim.until(lambda: fx_sim.conferences.together(customer.sid, first_leg.sid) is not None,
                       what="the conference")
    await _settled(fx_shop, fx_sim)
    state = await _line(fx_client, fx_shop, conversation_id, fx_shop.auth)
    assert state["call"]["state"] == "in-progress" and state["call"]["answered_at"] is not None
    assert {(p["role"], p["status"], p["user"]) for p in state["participants"]} == {
        ("customer", "joined", None), ("operator", "joined", fx_shop.user_id)}
    row = await _call_row(fx_shop, customer.sid)
    assert row["conversation"] == conversation_id and row["conference_sid"].startswith("CF")
    me, olga = f"operator-{fx_shop.user_id}", f"transfer-{colleague}"
    assert set(await _twilio_participants(line, row["conference_sid"])) == {"customer", me}

    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    await csrf_from(fx_client, f"/t/{fx_shop.slug}/console/")
    mine = (await fx_client.get(f"/t/{fx_shop.slug}/console/panels/mine", headers={"accept": "text/html"})).text
    assert 'data-call-state="in-progress"' in mine and 'data-testid="hold"' in mine and "Cleo Outbound" in mine

    for method, path, body in [("POST", f"/calls/{conversation_id}/hold", {"on": True}),
                               ("POST", f"/calls/{conversation_id}/warm-transfer", {"user_id": fx_other_shop.user_id}),
                               ("POST", f"/calls/{conversation_id}/hangup", None),
                               ("GET", f"/calls/{conversation_id}/participants", None)]:
        on_a = await fx_client.request(method, api(fx_shop, path), headers=fx_other_shop.auth, json=body)
        assert on_a.status_code == 404, (path, on_a.text)
        on_b = await fx_client.request(method, api(fx_other_shop, path), headers=fx_other_shop.auth, json=body)
        assert on_b.status_code in (400, 404), (path, on_b.text)
    assert not customer.held and customer.status == "in-progress", "nothing reached shop A's call"

    held = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/hold"), json={"on": True},
                                headers=fx_shop.auth)
    assert held.status_code == 200, held.text
    await fx_sim.until(lambda: customer.held, what="the customer on hold")
    await _settled(fx_shop, fx_sim)
    assert (await _line(fx_client, fx_shop, conversation_id, fx_shop.auth))["call"]["state"] == "on-hold"
    resumed = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/hold"), json={"on": False},
                                   headers=fx_shop.auth)
    assert resumed.status_code == 200, resumed.text
    await fx_sim.until(lambda: not customer.held, what="the customer back")
    await _settled(fx_shop, fx_sim)
    assert (await _line(fx_client, fx_shop, conversation_id, fx_shop.auth))["call"]["state"] == "in-progress"

    asked = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/warm-transfer"), json={"user_id": colleague},
                                 headers=fx_shop.auth)
    assert asked.status_code == 200, asked.text
    second_leg = await fx_sim.answer(SECOND_PHONE)
    await fx_sim.until(lambda: fx_sim.conferences.together(first_leg.sid, second_leg.sid) is not None,
                       what="the colleague on the line")
    await _settled(fx_shop, fx_sim)
    assert (await _line(fx_client, fx_shop, conversation_id, fx_shop.auth))["call"]["state"] == "on-hold"
    assert set(await _twilio_participants(line, row["conference_sid"])) == {"customer", me, olga}
    connected = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/warm-transfer/connect"),
                                     headers=fx_shop.auth)
    assert connected.status_code == 200, connected.text
    await fx_sim.until(lambda: first_leg.status == "completed" and not customer.held, what="the first operator out")
    await _settled(fx_shop, fx_sim)
    assert fx_sim.conferences.together(customer.sid, second_leg.sid) is not None
    state = await _line(fx_client, fx_shop, conversation_id, colleague_auth)
    assert state["call"]["operator"] == colleague and state["call"]["state"] == "in-progress"
    assert {(p["role"], p["user"]) for p in state["participants"]} == {("customer", None), ("operator", colleague)}
    assert (await fx_client.get(api(fx_shop, f"/conversations/{conversation_id}"),
                                headers=fx_shop.auth)).json()["assigned_to_id"] == colleague

    await fx_sim.hangup(customer.sid)
    await fx_sim.until(lambda: second_leg.status == "completed", what="the conference to end")
    await _settled(fx_shop, fx_sim)
    assert (await _line(fx_client, fx_shop, conversation_id, colleague_auth))["call"]["state"] == "ended"
    row = await _call_row(fx_shop, customer.sid)
    assert row["outcome"] == "answered" and row["direction"] == "outbound-api"
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{contact['id']}/timeline"),
                                    headers=fx_shop.auth)).json()["items"]
    assert any(i["payload"].get("event") == "ended" and i["direction"] == "out" for i in timeline)
    assert any("asked Olga Colleague to take the call" in i["summary"] for i in timeline)


async def test_click_to_call_nobody_answers_ends_the_call(fx_client: Any, fx_shop: ShopFixture,
                                                          fx_sim: Simulator) -> None:
    """The operator declines: the customer is never rung and the call ends as missed. The customer declines: the
    operator, alone in the conference, is hung up, and the call ends as missed."""
    await connect(fx_client, fx_shop, fx_sim)
    contact = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Nora Noanswer", "phones": [CUSTOMER]},
                                    headers=fx_shop.auth)).json()
    placed = await fx_client.post(api(fx_shop, f"/contacts/{contact['id']}/call"), json={}, headers=fx_shop.auth)
    assert placed.status_code == 201, placed.text
    first = placed.json()
    await fx_sim.until(lambda: bool(fx_sim.ringing(OPERATOR_PHONE)), what="the operator's phone to ring")
    await fx_sim.hangup(fx_sim.ringing(OPERATOR_PHONE)[0].sid)
    await _settled(fx_shop, fx_sim)
    assert not fx_sim.ringing(CUSTOMER)
    state = await _line(fx_client, fx_shop, first["conversation"], fx_shop.auth)
    assert state["call"]["state"] == "ended" and state["call"]["outcome"] == "missed" and state["participants"] == []

    placed = await fx_client.post(api(fx_shop, f"/contacts/{contact['id']}/call"), json={}, headers=fx_shop.auth)
    assert placed.status_code == 201, placed.text
    second = placed.json()
    operator_leg = await fx_sim.answer(OPERATOR_PHONE)
    await _settled(fx_shop, fx_sim)
    await fx_sim.until(lambda: bool(fx_sim.ringing(CUSTOMER)), what="the customer's phone to ring")
    await fx_sim.hangup(fx_sim.ringing(CUSTOMER)[0].sid)
    await _settled(fx_shop, fx_sim)
    await fx_sim.until(lambda: operator_leg.status == "completed", what="the operator's leg hung up")
    await _settled(fx_shop, fx_sim)
    state = await _line(fx_client, fx_shop, second["conversation"], fx_shop.auth)
    assert state["call"]["state"] == "ended" and state["call"]["outcome"] == "missed" and state["participants"] == []
async def test_a_caller_redirected_while_still_joining_leaves_the_conference_and_ends_it(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator, monkeypatch: Any) -> None:
    """The flake of the console test: under load the caller's participant-join callback into the colleague's
    conference was still in flight when the transfer back to the queue redirected the caller. Twilio takes a
    redirected call out of its conference whatever it was doing (and the caller's endConferenceOnExit ends it, with
    the colleague's leg); the simulator kept a ghost participant, so the room and the colleague's leg lived on."""
    colleague, _ = await _user(fx_shop, "operator", "Olga Colleague")
    line = await connect(fx_client, fx_shop, fx_sim, devices=[
        {"user_id": fx_shop.user_id, "address": OPERATOR_PHONE}, {"user_id": colleague, "address": SECOND_PHONE}])
    call, leg, conversation_id = await _taken_call(fx_client, fx_shop, fx_sim, line, fx_shop.auth)
    rooms = fx_sim.conferences
    slow = rooms._callback
    joins: list[str] = []

    async def stuck_second_join(room: Any, event: str, p: Any = None, **extra: str) -> None:
        if event == "participant-join" and p is not None and p.call_sid == call.sid:
            joins.append(room.sid)
            if len(joins) == 1:  # the caller joining the colleague's conference: its callback never comes back
                await asyncio.Event().wait()
        await slow(room, event, p, **extra)

    monkeypatch.setattr(rooms, "_callback", stuck_second_join)
    moved = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/transfer"), json={"user_id": colleague},
                                 headers=fx_shop.auth)
    assert moved.status_code == 200, moved.text
    second = await fx_sim.answer(SECOND_PHONE)
    await fx_sim.until(lambda: fx_sim.conferences.together(call.sid, second.sid) is not None
                       and leg.status == "completed", what="the caller with the colleague only")
    assert len(joins) == 1 and rooms.of_call(call.sid) is not None, "the caller is still joining"
    queued = await fx_client.post(api(fx_shop, f"/calls/{conversation_id}/transfer"), json={"queue": "general"},
                                  headers=fx_shop.auth)
    assert queued.status_code == 200, queued.text
    await fx_sim.until(lambda: call.queue == "general" and second.status == "completed", what="the caller queued")
    room = rooms.rooms[joins[0]]
    assert room.status == "completed" and room.reason_ended == "participant-with-end-conference-on-exit-left"
    assert room.participants[call.sid].status == "complete" and rooms.of_call(call.sid) is None
    await _settled(fx_shop, fx_sim)
    state = await _line(fx_client, fx_shop, conversation_id, fx_shop.auth)
    assert state["participants"] == [] and state["call"]["conference_name"] == ""
    conv = (await fx_client.get(api(fx_shop, f"/conversations/{conversation_id}"), headers=fx_shop.auth)).json()
    assert conv["status"] == "waiting" and conv["assigned_to_id"] is None
