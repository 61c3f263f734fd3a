"""Campaigns end to end through the API and the Twilio simulator: a template with variables and fallbacks in the
contact's language, the audience fixed at start, holdout, consent checked per message (an opt-out mid-send stops
the next message), quiet hours in the recipient's zone, throttle, frequency cap, pause / resume / cancel, a crashed
send resolved by asking Twilio (never sent twice), and another shop reaching nothing."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from app.consent import services as consent
from app.lib.db import current_uow, tenant_context
from telephony import client as twilio_client
from telephony.simulator import Simulator
from tests.conftest import ShopFixture
from tests.integration.campaign_kit import (
    add_member,
    contact,
    create,
    drop_later,
    read,
    recipients,
    run_jobs,
    segment,
    send,
    sms_body,
    texts,
)
from tests.integration.telephony_kit import connect, sim_fixture  # noqa: F401
from tests.integration.telephony_kit import run_jobs as run_all_jobs
from tests.integration.test_orders import api, make_order

PHONES = [f"+1415555{n:04d}" for n in range(2100, 2200)]


async def test_draft_validation_names_the_problem(fx_client: Any, fx_shop: ShopFixture) -> None:
    bad = await fx_client.post(api(fx_shop, "/campaigns"), json=sms_body("Hi {{ contact.name "), headers=fx_shop.auth)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "variants[0].content.default.body"
    assert "line 1" in bad.json()["detail"]
    unknown = await fx_client.post(api(fx_shop, "/campaigns"), json=sms_body("Hi {{ secret }}"), headers=fx_shop.auth)
    assert unknown.status_code == 400 and "secret" in unknown.json()["detail"]
    sandbox = await create(fx_client, fx_shop, sms_body("{{ contact.__class__ }}"))
    preview = await fx_client.post(api(fx_shop, f"/campaigns/{sandbox['id']}/preview"), json={}, headers=fx_shop.auth)
    assert preview.status_code == 200  # the sandbox renders unsafe attributes as nothing
    nosegment = await fx_client.post(api(fx_shop, f"/campaigns/{sandbox['id']}/send"), headers=fx_shop.auth)
    assert nosegment.status_code == 400 and nosegment.json()["errors"][0]["field"] == "segment_id"
    half = await fx_client.post(api(fx_shop, "/campaigns"), json=sms_body("x", quiet_start="21:00:00"),
                                headers=fx_shop.auth)
    assert half.status_code == 400 and half.json()["errors"][0]["field"] == "quiet_end"
    email = await fx_client.post(api(fx_shop, "/campaigns"), json={**sms_body("x"), "channel": "email"},
                                 headers=fx_shop.auth)
    assert email.status_code == 400 and "subject" in email.json()["errors"][0]["field"]


async def test_preview_uses_variables_language_and_fallbacks(fx_client: Any, fx_shop: ShopFixture) -> None:
    ana = await contact(fx_client, fx_shop, "Ana Petrova", PHONES[0], language="ru", timezone="Europe/Moscow")
    bob = await contact(fx_client, fx_shop, "Bob", PHONES[1])
    await make_order(fx_client, fx_shop, ana, number="A-100", placed_at="2026-11-30T22:30:00Z")
    body = {"name": "Thanks", "channel": "sms", "variants": [{"key": "A", "content": {
        "": {"body": "Hi {{ contact.first_name|default('friend') }}, order {{ last_order.number|default('-') }}"},
        "ru": {"body": "Привет, {{ contact.first_name }}! Заказ {{ last_order.number }} от {{ last_order.date }} "
                       "на {{ last_order.total }}"}}}]}
    c = await create(fx_client, fx_shop, body)
    ru = (await fx_client.post(api(fx_shop, f"/campaigns/{c['id']}/preview"), json={"contact_id": ana},
                               headers=fx_shop.auth)).json()
    assert ru["language"] == "ru"
    text = ru["items"][0]["body"]
    # The order was placed at 22:30 UTC on Nov 30: Dec 1 in Moscow (the recipient's zone), in Russian.
    assert text.startswith("Привет, Ana! Заказ A-100 от 1 дек") and "$" in text
    en = (await fx_client.post(api(fx_shop, f"/campaigns/{c['id']}/preview"), json={"contact_id": bob},
                               headers=fx_shop.auth)).json()
    assert "items" in en, en
    assert en["items"][0]["body"] == "Hi Bob, order -"


async def test_send_fixes_the_audience_holds_out_and_sends_once(fx_client: Any, fx_shop: ShopFixture,
                                                                 fx_sim: Simulator) -> None:
    await connect(fx_client, fx_shop, fx_sim)
    ids = [await contact(fx_client, fx_shop, f"Client {i}", PHONES[i]) for i in range(20)]
    nophone = await contact(fx_client, fx_shop, "No Phone")
    seg = await segment(fx_shop, [*ids, nophone])
    c = await create(fx_client, fx_shop, {**sms_body("Hello {{ contact.name }}"), "segment_id": seg,
                                          "holdout_percent": 30, "variants": [
        {"key": "A", "weight": 1, "content": {"": {"body": "A: hello {{ contact.name }}"}}},
        {"key": "B", "weight": 1, "content": {"": {"body": "B: hi {{ contact.name }}"}}}]})
    started = await send(fx_client, fx_shop, c["id"])
    assert started["status"] == "sending" and started["audience_count"] == 21
    late = await contact(fx_client, fx_shop, "Late Joiner", PHONES[50])
    await add_member(fx_shop, seg, late)  # joined after the start: not in this campaign

    again = await fx_client.post(api(fx_shop, f"/campaigns/{c['id']}/send"), headers=fx_shop.auth)
    assert again.status_code == 409
    edit = await fx_client.patch(api(fx_shop, f"/campaigns/{c['id']}"), json={"name": "x"}, headers=fx_shop.auth)
    assert edit.status_code == 409

    await run_jobs(fx_shop)
    final = await read(fx_client, fx_shop, c["id"])
    assert final["status"] == "done" and final["finished_at"]
    rows = await recipients(fx_client, fx_shop, c["id"])
    assert len(rows) == 21 and late not in {r["contact_id"] for r in rows}
    by = {r["contact_id"]: r for r in rows}
    if not by[nophone]["holdout"]:  # drawn into the holdout (30%) it is simply held out
        assert by[nophone]["status"] == "skipped" and by[nophone]["skip_reason"] == "no_address"
    held = [r for r in rows if r["holdout"]]
    assert all(r["status"] == "held_out" and r["variant"] is None for r in held)
    sent = [r for r in rows if r["status"] == "sent"]
    assert len(sent) + len([r for r in held if r["contact_id"] != nophone]) == 20 and sent
    for r in sent:
        [msg] = texts(fx_sim, r["address"])
        assert msg.body == f"{r['variant']}: {'hello' if r['variant'] == 'A' else 'hi'} {r['contact_name']}"
        assert r["sms_message_id"] and r["sent_at"]
    for r in held:
        assert texts(fx_sim, r["address"]) == []
    assert texts(fx_sim, PHONES[50]) == []
    await run_jobs(fx_shop)  # a second run (a duplicate job) sends nothing
    assert len(texts(fx_sim)) == len(sent)


async def test_opt_out_mid_send_stops_the_next_message(fx_client: Any, fx_shop: ShopFixture,
                                                       fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    ids = [await contact(fx_client, fx_shop, f"Client {i}", PHONES[i]) for i in range(4)]
    already = await contact(fx_client, fx_shop, "Opted out before", PHONES[10])
    async with tenant_context(fx_shop.tenant):
        await consent.record(already, "sms", "marketing", "opt_out", "keyword", "STOP")
    c = await create(fx_client, fx_shop, {**sms_body("Sale!"), "segment_id": await segment(fx_shop, [*ids, already]),
                                          "throttle_per_minute": 2})
    await send(fx_client, fx_shop, c["id"])
    later = await run_jobs(fx_shop)
    assert len(texts(fx_sim)) == 2  # the throttle: two this minute, the job queued again for the next
    assert len(later) == 1 and 0 < later[0]["delay"] <= 60
    # One of the two still queued texts STOP to the shop (through the simulator's signed webhook) while the campaign
    # waits for its next minute.
    waiting = await recipients(fx_client, fx_shop, c["id"], "queued")
    assert len(waiting) == 2
    stop, go = waiting[0], waiting[1]
    fx_sim.send_sms(stop["address"], line.number, "STOP")
    await fx_sim.settle()
    await run_all_jobs(fx_shop)
    ledger = (await fx_client.get(api(fx_shop, f"/contacts/{stop['contact_id']}/consent"), headers=fx_shop.auth)).json()
    assert {k: ledger[0][k] for k in ("channel", "purpose", "status", "source")} == {
        "channel": "sms", "purpose": "marketing", "status": "opt_out", "source": "keyword"}
    async with tenant_context(fx_shop.tenant):
        await current_uow().connection.execute(  # the minute has passed
            "UPDATE campaign_recipient SET claimed_at = claimed_at - interval '61 seconds' WHERE campaign = $1",
            c["id"])
    await drop_later(fx_shop)
    await fx_client.post(api(fx_shop, f"/campaigns/{c['id']}/pause"), headers=fx_shop.auth)
    await fx_client.post(api(fx_shop, f"/campaigns/{c['id']}/resume"), headers=fx_shop.auth)
    await run_jobs(fx_shop)
    by = {r["contact_id"]: r for r in await recipients(fx_client, fx_shop, c["id"])}
    assert by[stop["contact_id"]]["status"] == "skipped" and by[stop["contact_id"]]["skip_reason"] == "opted_out"
    assert by[already]["status"] == "skipped" and by[already]["skip_reason"] == "opted_out"
    assert texts(fx_sim, stop["address"]) == [] and texts(fx_sim, PHONES[10]) == []
    assert len(texts(fx_sim, go["address"])) == 1 and len(texts(fx_sim)) == 3
    assert (await read(fx_client, fx_shop, c["id"]))["status"] == "done"


def _quiet_around_now(zone: str) -> tuple[str, str]:
    local = dt.datetime.now(zoneinfo.ZoneInfo(zone))
    start = (local - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    return start.isoformat(), end.isoformat()


async def test_quiet_hours_hold_in_the_recipients_zone(fx_client: Any, fx_shop: ShopFixture,
                                                       fx_sim: Simulator) -> None:
    await connect(fx_client, fx_shop, fx_sim)
    # Now is inside the quiet hours in Tokyo, and 9 hours away from them in Lisbon... or the other way round in
    # summer: both zones are checked against their own clocks.
    tokyo = await contact(fx_client, fx_shop, "Tokyo", PHONES[0], timezone="Asia/Tokyo")
    lisbon = await contact(fx_client, fx_shop, "Lisbon", PHONES[1], timezone="Europe/Lisbon")
    start, end = _quiet_around_now("Asia/Tokyo")
    c = await create(fx_client, fx_shop, {**sms_body("Hi"), "segment_id": await segment(fx_shop, [tokyo, lisbon]),
                                          "quiet_start": start, "quiet_end": end})
    await send(fx_client, fx_shop, c["id"])
    later = await run_jobs(fx_shop)
    assert len(texts(fx_sim, PHONES[1])) == 1 and texts(fx_sim, PHONES[0]) == []
    by = {r["contact_id"]: r for r in await recipients(fx_client, fx_shop, c["id"])}
    assert by[tokyo]["status"] == "queued" and by[tokyo]["timezone"] == "Asia/Tokyo"
    # The sender is queued again for the end of the quiet hours in Tokyo (about an hour), not polling.
    assert len(later) == 1 and 3300 < later[0]["delay"] <= 3600
    assert (await read(fx_client, fx_shop, c["id"]))["status"] == "sending"
    # The window ends (the shop moves it): the waiting recipient goes.
    async with tenant_context(fx_shop.tenant):
        await current_uow().connection.execute("UPDATE campaign SET quiet_start = NULL, quiet_end = NULL "
                                               "WHERE id = $1", c["id"])
    await drop_later(fx_shop)
    await fx_client.post(api(fx_shop, f"/campaigns/{c['id']}/pause"), headers=fx_shop.auth)
    await fx_client.post(api(fx_shop, f"/campaigns/{c['id']}/resume"), headers=fx_shop.auth)
    await run_jobs(fx_shop)
    assert len(texts(fx_sim, PHONES[0])) == 1


async def test_frequency_cap_across_campaigns(fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    await connect(fx_client, fx_shop, fx_sim)
    a = await contact(fx_client, fx_shop, "Often", PHONES[0])
    b = await contact(fx_client, fx_shop, "Seldom", PHONES[1])
    first = await create(fx_client, fx_shop, {**sms_body("One"), "segment_id": await segment(fx_shop, [a], "one")})
    await send(fx_client, fx_shop, first["id"])
    await run_jobs(fx_shop)
    second = await create(fx_client, fx_shop, {**sms_body("Two"), "segment_id": await segment(fx_shop, [a, b], "two"),
                                               "cap_messages": 1, "cap_days": 7})
    await send(fx_client, fx_shop, second["id"])
    await run_jobs(fx_shop)
    by = {r["contact_id"]: r for r in await recipients(fx_client, fx_shop, second["id"])}
    assert by[a]["status"] == "skipped" and by[a]["skip_reason"] == "frequency_cap"
    assert by[b]["status"] == "sent"
    assert [m.body for m in texts(fx_sim, PHONES[0])] == ["One"]


async def test_pause_resume_cancel(fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    await connect(fx_client, fx_shop, fx_sim)
    ids = [await contact(fx_client, fx_shop, f"Client {i}", PHONES[i]) for i in range(6)]
    c = await create(fx_client, fx_shop, {**sms_body("Hi"), "segment_id": await segment(fx_shop, ids),
                                          "throttle_per_minute": 2})
    await send(fx_client, fx_shop, c["id"])
    paused = await fx_client.post(api(fx_shop, f"/campaigns/{c['id']}/pause"), headers=fx_shop.auth)
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    await run_jobs(fx_shop)
    assert texts(fx_sim) == []  # a paused campaign sends nothing
    await fx_client.post(api(fx_shop, f"/campaigns/{c['id']}/resume"), headers=fx_shop.auth)
    await run_jobs(fx_shop)
    assert len(texts(fx_sim)) == 2
    cancelled = await fx_client.post(api(fx_shop, f"/campaigns/{c['id']}/cancel"), headers=fx_shop.auth)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    counts = cancelled.json()["counts"]
    assert counts["sent"] == 2 and counts["skipped"] == 4
    skipped = await recipients(fx_client, fx_shop, c["id"], "skipped")
    assert {r["skip_reason"] for r in skipped} == {"cancelled"}
    async with tenant_context(fx_shop.tenant):
        await current_uow().connection.execute(
            "UPDATE campaign_recipient SET claimed_at = claimed_at - interval '61 seconds' WHERE campaign = $1",
            c["id"])
    await drop_later(fx_shop)
    await run_jobs(fx_shop)
    assert len(texts(fx_sim)) == 2
    again = await fx_client.post(api(fx_shop, f"/campaigns/{c['id']}/resume"), headers=fx_shop.auth)
    assert again.status_code == 409


async def test_a_send_cut_short_by_a_crash_is_looked_up_at_twilio(fx_client: Any, fx_shop: ShopFixture,
                                                                    fx_sim: Simulator) -> None:
    """Two recipients left 'sending' by a dead sender: Twilio took the first one's message (the crash came before
    it was recorded), not the second's. The next sender records the first as sent and sends only the second."""
    line = await connect(fx_client, fx_shop, fx_sim)
    a = await contact(fx_client, fx_shop, "Taken", PHONES[0])
    b = await contact(fx_client, fx_shop, "Not taken", PHONES[1])
    c = await create(fx_client, fx_shop, {**sms_body("Hi"), "segment_id": await segment(fx_shop, [a, b])})
    await send(fx_client, fx_shop, c["id"])
    await drop_later(fx_shop)
    async with tenant_context(fx_shop.tenant):
        await current_uow().connection.execute("UPDATE campaign_recipient SET status = 'sending', "
                                               "claimed_at = now() WHERE campaign = $1", c["id"])
    before = dt.datetime.now(dt.UTC)
    other = fx_sim.create_message(line.account_sid, to=PHONES[0], from_=line.number, body="Hi", status_callback="")
    assert other.created >= before - dt.timedelta(seconds=1)
    await fx_client.post(api(fx_shop, f"/campaigns/{c['id']}/pause"), headers=fx_shop.auth)
    await fx_client.post(api(fx_shop, f"/campaigns/{c['id']}/resume"), headers=fx_shop.auth)
    await run_jobs(fx_shop)
    assert len(texts(fx_sim, PHONES[0])) == 1 and len(texts(fx_sim, PHONES[1])) == 1
    by = {r["contact_id"]: r for r in await recipients(fx_client, fx_shop, c["id"])}
    assert by[a]["status"] == "sent" and by[a]["sms_message_id"]
    assert by[b]["status"] == "sent"
    async with tenant_context(fx_shop.tenant):
        sid = await current_uow().connection.fetchval("SELECT sid FROM sms_message WHERE id = $1",
                                                      by[a]["sms_message_id"])
    assert sid == other.sid


async def test_simulator_lists_messages_filtered_like_twilio(fx_client: Any, fx_shop: ShopFixture,
                                                            fx_sim: Simulator) -> None:
    from telephony import config as twilio_config

    line = await connect(fx_client, fx_shop, fx_sim)
    for to in (PHONES[0], PHONES[0], PHONES[1]):
        fx_sim.create_message(line.account_sid, to=to, from_=line.number, body="x", status_callback="")
    async with tenant_context(fx_shop.tenant):
        config = await twilio_config.require()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    found = await twilio_client.call(config, lambda cl: cl.messages.list(to=PHONES[0], date_sent_after=since))
    assert len(found) == 2 and {m.to for m in found} == {PHONES[0]}
    paged = await twilio_client.call(config, lambda cl: cl.messages.list(page_size=1))
    assert len(paged) == 3  # followed next_page_uri

    # A message sent while a client pages through the list does not make it list another one twice.
    first = await twilio_client.call(config, lambda cl: cl.messages.page(page_size=2))
    fx_sim.create_message(line.account_sid, to=PHONES[2], from_=line.number, body="x", status_callback="")
    rest = await twilio_client.call(config, lambda cl: list(first.next_page()) if first.next_page_url else [])
    sids = [m.sid for m in list(first) + rest]
    assert len(sids) == len(set(sids)) == 3
    future = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    assert await twilio_client.call(config, lambda cl: cl.messages.list(date_sent_after=future)) == []


async def test_another_shop_reaches_nothing(fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    a = await contact(fx_client, fx_shop, "Mine", PHONES[0])
    seg = await segment(fx_shop, [a])
    c = await create(fx_client, fx_shop, {**sms_body("Hi"), "segment_id": seg})
    other = fx_other_shop.auth
    for method, path in (("get", ""), ("patch", ""), ("post", "/send"), ("post", "/pause"), ("post", "/cancel"),
                         ("get", "/recipients"), ("post", "/preview")):
        kwargs: dict[str, Any] = {"headers": other}
        if method in ("patch", "post") and path in ("", "/preview"):
            kwargs["json"] = {}
        resp = await getattr(fx_client, method)(api(fx_other_shop, f"/campaigns/{c['id']}{path}"), **kwargs)
        assert resp.status_code == 404, (method, path, resp.text)
    listed = await fx_client.get(api(fx_other_shop, "/campaigns"), headers=other)
    assert listed.json()["items"] == []
    stolen = await fx_client.post(api(fx_other_shop, "/campaigns"), json={**sms_body("x"), "segment_id": seg},
                                  headers=other)
    assert stolen.status_code == 400 and stolen.json()["errors"][0]["field"] == "segment_id"
    mine = await fx_client.get(api(fx_shop, f"/campaigns/{c['id']}"), headers=other)
    assert mine.status_code == 401 or mine.status_code == 403 or mine.status_code == 404
