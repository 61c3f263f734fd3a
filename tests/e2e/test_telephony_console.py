"""A phone call end to end in the browser: the simulated Twilio places an inbound call to a shop, it appears in
the operator's console with the caller's card, the operator clicks Accept, the simulator sees the bridge to the
operator's phone, answers, the call completes, and the recording plays from the contact's card."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect

from telephony.simulator import Simulator, create_app
from tests.conftest import ADMIN_DSN, TEST_DB
from tests.e2e.conftest import (
    REPO_ROOT,
    LiveServer,
    NewContext,
    _admin,
    _run_cli,
    _server_env,
    free_port,
    live_signup,
    sign_in,
)
from tests.servers import InProcessServer

OPERATOR_PHONE = "+14155550123"
CUSTOMER = "+14155550199"
TEL_DB = f"{TEST_DB}_tel"
TEL_DSN = ADMIN_DSN.rsplit("/", 1)[0] + f"/{TEL_DB}"


@pytest.fixture(name="fx_phone_shop_server")
async def phone_shop_server(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, Simulator]]:
    """The simulator's REST API in this loop on a loopback port, and an app server of its own (own database, so
    no other server's job worker takes its webhook jobs) whose TWILIO_API_BASE points at it."""
    sim = Simulator(webhooks=httpx.AsyncClient(timeout=15, trust_env=False))
    rest = await InProcessServer(create_app(sim)).start()
    await _admin(f'DROP DATABASE IF EXISTS "{TEL_DB}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{TEL_DB}"')
    proc = None
    try:
        await _run_cli(["migrate"], _server_env(TEL_DSN, tmp_path), tmp_path / "migrate.log")
        port = free_port()
        env = {**_server_env(TEL_DSN, tmp_path, port=port), "TWILIO_API_BASE": rest.url}
        log = tmp_path / "server.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.asgi:create_app", "--factory", "--host", "127.0.0.1", "--port",
             str(port)], cwd=REPO_ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        server = LiveServer(f"http://127.0.0.1:{port}", TEL_DSN, None, log)  # type: ignore[arg-type]
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{server.url}/health")).status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log.read_text()[-5000:])
                await asyncio.sleep(0.1)
        yield server, sim
    finally:
        if proc is not None:
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, 15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        await sim.close()
        await rest.stop()
        await _admin(f'DROP DATABASE IF EXISTS "{TEL_DB}" WITH (FORCE)')


async def test_operator_accepts_a_call_in_the_console_and_hears_the_recording_on_the_card(
        fx_new_context: NewContext, fx_phone_shop_server: tuple[LiveServer, Simulator]) -> None:
    server, sim = fx_phone_shop_server
    shop = await live_signup(server, "phone")
    token = secrets.token_hex(16)
    acct = sim.add_account(auth_token=token)
    number = "+14155550100"
    hooks = f"{server.url}/t/{shop.slug}/webhooks/twilio"
    sim.add_number(acct.sid, number, voice_url=f"{hooks}/voice", status_callback=f"{hooks}/status",
                   sms_url=f"{hooks}/sms")
    async with httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False) as api:
        me = (await api.get(f"/t/{shop.slug}/api/v1/me", headers=shop.auth)).json()
        saved = await api.put(f"/t/{shop.slug}/api/v1/channels/twilio", headers=shop.auth, json={
            "account_sid": acct.sid, "auth_token": token, "numbers": [number], "record_calls": True,
            "devices": [{"user_id": me["id"], "address": OPERATOR_PHONE}]})
        assert saved.status_code == 200, saved.text

    page = await (await fx_new_context(base_url=server.url)).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)
    await page.goto(f"/t/{shop.slug}/console/")
    await expect(page.get_by_test_id("queue-empty")).to_be_visible()
    await asyncio.sleep(0.5)  # the console's websocket is subscribed

    call = sim.place_call(CUSTOMER, number)
    item = page.get_by_test_id("queue-item")
    await expect(item).to_have_count(1)
    await expect(item).to_contain_text("call")
    await expect(item.get_by_test_id("caller-value")).to_contain_text("no orders yet")
    await expect(item.get_by_test_id("caller-card-link")).to_contain_text("415-555-0199")
    assert call.queue == "general"

    await item.get_by_test_id("accept").click()
    await expect(page.get_by_test_id("console-flash")).to_contain_text("You took the call")
    mine = page.get_by_test_id("mine-item")
    await expect(mine.get_by_test_id("call-status")).to_have_text("ringing")  # the operator's phone rings
    leg = await sim.answer(OPERATOR_PHONE, within=15)
    # Calls run as Twilio Conferences (issue 14): the caller and the operator's leg are in one started conference.
    await sim.until(lambda: sim.conferences.together(call.sid, leg.sid) is not None, what="the conference")
    assert call.queue is None
    await expect(mine.get_by_test_id("hang-up")).to_be_visible()
    # The badge follows the real call: in progress once the operator's phone answered (the conference's join
    # callback), on hold while held, with the call's timer and the recording dot.
    await expect(mine.get_by_test_id("call-status")).to_have_text("in progress")
    await expect(mine.get_by_test_id("call-timer")).to_be_visible()
    await expect(mine.get_by_test_id("recording-dot")).to_be_visible()
    await mine.get_by_test_id("hold").click()
    await expect(mine.get_by_test_id("call-status")).to_have_text("on hold")
    await sim.until(lambda: call.held, what="the caller on hold")
    await mine.get_by_test_id("resume").click()
    await expect(mine.get_by_test_id("call-status")).to_have_text("in progress")
    await sim.until(lambda: not call.held, what="the caller back")

    sim.clock.advance(12)
    await sim.hangup(call.sid)
    await expect(mine.get_by_test_id("call-status")).to_have_text("ended")  # pushed by the status callback
    await expect(mine.get_by_test_id("wrapup-timer")).to_be_visible()
    card = await mine.get_by_test_id("caller-card-link").get_attribute("href")
    assert card and card.startswith(f"/t/{shop.slug}/contacts/")

    await page.goto(card)
    recording = page.get_by_test_id("call-recording")
    deadline = time.monotonic() + 20
    while await recording.count() == 0 and time.monotonic() < deadline:  # the recording callback's job copies it
        await asyncio.sleep(0.3)
        await page.reload()
    await expect(recording).to_have_count(1)
    timeline = page.get_by_test_id("timeline-item")
    # The card shows the length the simulator recorded: the 12 s the clock was moved on plus the real seconds the
    # call took (more on a busy machine), never less.
    seconds = [r.duration for r in sim.recordings.values()]
    assert len(seconds) == 1 and seconds[0] >= 12, seconds
    await expect(timeline.filter(has_text=f"Call recording ({seconds[0]} s)")).to_have_count(1)
    await expect(timeline.filter(has_text="ended after")).to_have_count(1)
    audio = await page.request.get(await recording.get_attribute("src") or "")
    assert audio.status == 200 and audio.headers["content-type"] == "audio/mpeg"
    recorded = seconds[0]
    seconds = await recording.evaluate(
        "a => new Promise(done => { a.onloadedmetadata = () => done(a.duration); a.onerror = () => done(-1);"
        " a.preload = 'auto'; a.load(); })")
    # The audio the simulator made lasts what it recorded (12 s of moved clock plus the real seconds the call took).
    assert recorded - 1 <= seconds <= recorded + 1, f"Chromium could not play the recording ({seconds} s of {recorded})"
