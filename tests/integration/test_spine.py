"""The durable event spine: listeners with their own cursor per tenant, run by the worker; crash-safe (a real worker
process killed mid-batch), failing listeners backed off then parked and shown to admins without holding up the
others, tenants kept apart, trimming waiting for the slowest cursor (with a cap), and the pull API."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from app.lib.db import current_tenant, current_uow, tenant_context
from realtime import channels, durable
from realtime import log as event_log
from realtime.durable import Backoff, DurableListener, Spine
from realtime.events import Event
from realtime.publish import publish
from tests.conftest import TEST_DSN, ShopFixture, browser_login, until_final
from tests.servers import REPO


async def wait_for(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"gave up after {timeout} s waiting for {what}")


async def effect_table(shop: ShopFixture) -> None:
    async with tenant_context(shop.tenant):
        await current_uow().connection.execute(
            "CREATE TABLE IF NOT EXISTS spine_effect (listener text NOT NULL DEFAULT '', event_id bigint NOT NULL, "
            "seen_in text NOT NULL DEFAULT '')")


async def effects(shop: ShopFixture, listener: str | None = None) -> list[int]:
    async with tenant_context(shop.tenant):
        rows = await current_uow().connection.fetch(
            "SELECT event_id FROM spine_effect WHERE $1::text IS NULL OR listener = $1 ORDER BY event_id", listener)
    return [r["event_id"] for r in rows]


async def emit_many(shop: ShopFixture, name: str, count: int) -> list[int]:
    return [e.id for e in await publish_many(shop, name, count)]


async def publish_many(shop: ShopFixture, name: str, count: int) -> list[Event]:
    """`count` events in one transaction (one `tx`: their ids follow each other), final when this returns."""
    events = []
    async with tenant_context(shop.tenant):
        for i in range(count):
            events.append(await publish(name, {"contact_id": i + 1}, channels=[channels.contact(i + 1)]))
    await until_final(shop.tenant, events[-1].position)
    return events


async def cursor(shop: ShopFixture, name: str) -> dict[str, Any]:
    async with tenant_context(shop.tenant):
        row = await current_uow().connection.fetchrow("SELECT * FROM listener_cursor WHERE name = $1", name)
    return dict(row)


def recording(name: str, events: set[str]) -> DurableListener:
    """A listener whose effect is a row in the tenant's spine_effect table, written in the listener's transaction."""
    async def handle(event: Event) -> None:
        await current_uow().connection.execute(
            "INSERT INTO spine_effect (listener, event_id, seen_in) VALUES ($1, $2, $3)",
            name, event.id, f"{current_tenant().slug}/{event.tenant}/{event.data.get('contact_id')}")

    return DurableListener(name, handle, frozenset(events))


# -- crash: a real worker process, SIGKILL in the middle of a batch ---------------------------------------------

def start_worker(trace: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tests.integration.spine_worker"], cwd=REPO,
                            env={**os.environ, "SPINE_TEST_TRACE": str(trace)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_worker_killed_mid_batch_resumes_and_each_effect_happens_once(fx_shop: ShopFixture) -> None:
    await effect_table(fx_shop)
    async with tenant_context(fx_shop.tenant):
        # The worker's own listener (tests/integration/spine_worker.py) gets its cursor here, before the events.
        await durable.ensure_cursors([recording("test.slow_effect", {"contact.updated"})])
    ids = await emit_many(fx_shop, "contact.updated", 150)  # a batch is 100 events, at 50 ms each
    trace = Path(tempfile.mkdtemp(prefix="sb-spine-")) / "trace"
    trace.touch()
    proc = start_worker(trace)
    try:
        await wait_for(lambda: asyncio.sleep(0, len(trace.read_text().split()) >= 30), "the worker to be mid-batch")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    handled_before_kill = [int(x) for x in trace.read_text().split()]
    assert handled_before_kill[:30] == ids[:30]
    at_kill = (await cursor(fx_shop, "test.slow_effect"))["last_event_id"]
    committed = await effects(fx_shop)
    assert committed == [i for i in ids if i <= at_kill]  # effects and cursor committed together, or not at all
    assert len(handled_before_kill) > len(committed)  # killed mid-batch: handled events whose effects were lost

    proc = start_worker(trace)
    try:
        await wait_for(lambda: cursor_at(fx_shop, ids[-1]), "the restarted worker to catch up", timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert await effects(fx_shop) == ids  # each event's effect exactly once
    seen = [int(x) for x in trace.read_text().split()]
    assert set(seen) == set(ids) and seen.count(handled_before_kill[-1]) == 2  # the interrupted one ran again


async def cursor_at(shop: ShopFixture, last: int) -> bool:
    return bool((await cursor(shop, "test.slow_effect"))["last_event_id"] >= last)


# -- failures: back-off, parked, shown to admins, others carry on ------------------------------------------------

async def test_failing_listener_backs_off_then_parks_without_blocking_others(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    await effect_table(fx_shop)
    calls: list[int] = []
    broken = {"yes": True}

    async def flaky(event: Event) -> None:
        calls.append(event.id)
        if broken["yes"]:
            raise RuntimeError("the CRM on the other end said no")
        await current_uow().connection.execute(
            "INSERT INTO spine_effect (listener, event_id) VALUES ('flaky', $1)", event.id)

    failing = DurableListener("test.flaky", flaky, frozenset({"contact.updated"}), "Fails until fixed.")
    steady = recording("test.steady", {"contact.updated"})
    async with tenant_context(fx_shop.tenant):
        await durable.ensure_cursors([failing, steady])
    first = (await emit_many(fx_shop, "contact.updated", 2))[0]
    spine = Spine(TEST_DSN, [failing, steady], backoff=Backoff(base=0.05, cap=0.2, max_attempts=4))
    await spine.start()
    try:
        await wait_for(lambda: state_is(fx_shop, "test.flaky", "parked"), "the flaky listener to be parked")
        sentinel = (await emit_many(fx_shop, "contact.updated", 1))[0]
        await wait_for(lambda: has_effect(fx_shop, "test.steady", sentinel), "the steady listener to go on")
        assert calls == [first] * 4  # four tries of the first event (back-off in between), none after parking
        assert await effects(fx_shop, "test.steady") == [first, first + 1, sentinel]

        listed = (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/listeners", headers=fx_shop.auth)).json()
        flaky_row = next(li for li in listed if li["name"] == "test.flaky")
        assert flaky_row["state"] == "parked" and flaky_row["attempts"] == 4 and flaky_row["lag"] == 3
        assert "the CRM on the other end said no" in flaky_row["last_error"]
        assert f"#{first}" in flaky_row["last_error"]
        assert next(li for li in listed if li["name"] == "test.steady")["lag"] == 0
        await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
        page = (await fx_client.get(f"/t/{fx_shop.slug}/settings/listeners/")).text
        assert "test.flaky" in page and "Parked" in page and "the CRM on the other end said no" in page
        assert "/settings/listeners/test.flaky/resume" in page
        fx_client.cookies.clear()

        broken["yes"] = False
        resumed = await fx_client.post(f"/t/{fx_shop.slug}/api/v1/listeners/test.flaky/resume", headers=fx_shop.auth)
        assert resumed.status_code == 200 and resumed.json()["state"] == "active", resumed.text
        await wait_for(lambda: has_effect(fx_shop, "flaky", sentinel), "the resumed listener to catch up")
        assert await effects(fx_shop, "flaky") == [first, first + 1, sentinel]
        missing = await fx_client.post(f"/t/{fx_shop.slug}/api/v1/listeners/nope/resume", headers=fx_shop.auth)
        assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    finally:
        await spine.stop()


async def state_is(shop: ShopFixture, name: str, state: str) -> bool:
    return bool((await cursor(shop, name))["state"] == state)


async def has_effect(shop: ShopFixture, listener: str, event_id: int) -> bool:
    return event_id in await effects(shop, listener)


# -- tenants -----------------------------------------------------------------------------------------------------

async def test_a_tenants_events_never_reach_a_listener_run_for_another(
        fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    listener = recording("test.isolation", {"contact.created", "contact.updated"})
    for shop in (fx_shop, fx_other_shop):
        await effect_table(shop)
        async with tenant_context(shop.tenant):
            await durable.ensure_cursors([listener])
    async with tenant_context(fx_shop.tenant):
        a = [(await publish("contact.updated", {"contact_id": 1000 + i}, channels=[channels.contact(1)])).id
             for i in range(5)]
    async with tenant_context(fx_other_shop.tenant):
        b = [(await publish("contact.created", {"contact_id": 2000 + i}, channels=[channels.queue()])).id
             for i in range(3)]
    spine = Spine(TEST_DSN, [listener])
    await spine.start()
    try:
        await wait_for(lambda: has_effect(fx_shop, "test.isolation", a[-1]), "shop A's events")
        await wait_for(lambda: has_effect(fx_other_shop, "test.isolation", b[-1]), "shop B's events")
    finally:
        await spine.stop()
    for shop, ids, base in ((fx_shop, a, 1000), (fx_other_shop, b, 2000)):
        async with tenant_context(shop.tenant):
            rows = await current_uow().connection.fetch(
                "SELECT event_id, seen_in FROM spine_effect WHERE listener = 'test.isolation' ORDER BY event_id")
        assert [r["event_id"] for r in rows] == ids
        assert [r["seen_in"] for r in rows] == [f"{shop.slug}/{shop.slug}/{base + i}" for i in range(len(ids))]


# -- trimming ----------------------------------------------------------------------------------------------------

async def test_trimming_waits_for_the_slowest_cursor_and_the_cap_parks_it(fx_shop: ShopFixture) -> None:
    await effect_table(fx_shop)
    slow = recording("test.slow", {"contact.updated"})
    uninterested = recording("test.deals_only", {"deal.moved"})
    async with tenant_context(fx_shop.tenant):
        await durable.ensure_cursors([slow, uninterested])
    ids = await emit_many(fx_shop, "contact.updated", 10)
    async with tenant_context(fx_shop.tenant):
        assert await event_log.trim(keep=2) == 0  # the slow listener has handled none of them
    async with tenant_context(fx_shop.tenant):
        assert (await durable.run_batch(slow, Backoff(), batch=4)).more
    assert await effects(fx_shop, "test.slow") == ids[:4]
    async with tenant_context(fx_shop.tenant):
        assert await event_log.trim(keep=2) == 4  # up to the slow cursor, not to the newest 2
        oldest = (await event_log.bounds()).oldest
        assert oldest is not None and oldest.id == ids[4]
    async with tenant_context(fx_shop.tenant):
        # The cap: a listener may hold back the newest 3 at most; it is parked past the 3 it had not handled.
        assert await event_log.trim(keep=2, cap_events=3) == 3
        bounds = await event_log.bounds()
    assert bounds.oldest is not None and bounds.oldest.id == ids[-3]
    parked = await cursor(fx_shop, "test.slow")
    assert parked["state"] == "parked" and parked["last_event_id"] == ids[-4]
    assert "3 events up to" in parked["last_error"]
    assert (await cursor(fx_shop, "test.deals_only"))["state"] == "active"


# -- the pull API ------------------------------------------------------------------------------------------------

async def test_pull_api_pages_the_log_and_refuses_another_tenants_key(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    url = f"/t/{fx_shop.slug}/api/v1/events"
    start = (await fx_client.get(url, params={"after": "0.0", "limit": 500}, headers=fx_shop.auth)).json()["next"]
    events = await publish_many(fx_shop, "contact.updated", 5)
    ids, at = [e.id for e in events], [str(e.position) for e in events]
    await emit_many(fx_other_shop, "contact.created", 2)
    page1 = (await fx_client.get(url, params={"after": start, "limit": 3}, headers=fx_shop.auth)).json()
    assert [e["id"] for e in page1["items"]] == ids[:3] and page1["next"] == at[2]
    assert [e["position"] for e in page1["items"]] == at[:3]
    assert page1["items"][0]["name"] == "contact.updated" and page1["items"][0]["data"] == {"contact_id": 1}
    page2 = (await fx_client.get(url, params={"after": page1["next"], "limit": 3}, headers=fx_shop.auth)).json()
    assert [e["id"] for e in page2["items"]] == ids[3:] and page2["next"] == at[-1]
    empty = (await fx_client.get(url, params={"after": page2["next"]}, headers=fx_shop.auth)).json()
    assert empty["items"] == [] and empty["next"] == at[-1]

    foreign = await fx_client.get(url, headers=fx_other_shop.auth)
    unknown = await fx_client.get("/t/no_such_shop/api/v1/events", headers=fx_other_shop.auth)
    assert foreign.status_code == unknown.status_code == 404 and foreign.json() == unknown.json()
    # Not a position (an old integer cursor among them), out of range, or a position this log never handed out.
    for params in ({"limit": 0}, {"limit": 501}, {"after": -1}, {"after": "x"}, {"after": 10**30}, {"after": 3},
                   {"after": "1.2.3"}, {"after": f"{10**30}.1"}, {"after": "-1.5"}, {"after": f"{events[-1].tx}.0"},
                   {"after": f"{events[-1].tx + 10**6}.1"}):
        bad = await fx_client.get(url, params=params, headers=fx_shop.auth)
        assert bad.status_code == 400 and bad.json()["detail"], (params, bad.text)
        assert "500" in bad.json()["detail"] or "0.0" in bad.json()["detail"], bad.text  # says what to send

    async with tenant_context(fx_shop.tenant):  # live-only (a presence change) is skipped, the cursor moves past it
        live = await publish("presence.changed", {"user_id": 1, "status": "away"}, channels=[channels.queue()])
        after_live = await publish("contact.deleted", {"contact_id": 9}, channels=[channels.queue()])
    await until_final(fx_shop.tenant, after_live.position)
    page3 = (await fx_client.get(url, params={"after": page2["next"], "limit": 1}, headers=fx_shop.auth)).json()
    assert [e["id"] for e in page3["items"]] == [after_live.id] and page3["next"] == str(after_live.position)
    page4 = (await fx_client.get(url, params={"after": str(live.position)}, headers=fx_shop.auth)).json()
    assert [e["id"] for e in page4["items"]] == [after_live.id]
    page5 = (await fx_client.get(url, params={"after": page3["next"]}, headers=fx_shop.auth)).json()
    assert page5["items"] == [] and page5["next"] == page3["next"]

    catalogue = (await fx_client.get(url + "/catalogue", headers=fx_shop.auth)).json()
    assert {"name": "order.status_changed", "doc": "An order moved to another status (order_id, contact_id, status).",
            "fields": ["order_id", "contact_id", "status"]} in catalogue
    assert "chat.typing" not in {e["name"] for e in catalogue}
    schema = (await fx_client.get("/schema/openapi.json")).json()
    assert "/t/{slug}/api/v1/events" in schema["paths"] and "/t/{slug}/api/v1/events/catalogue" in schema["paths"]
