"""SLA policies and clocks (issue 16): first response met by the first reply, next response after the customer's
next message, resolution met on wrap-up; a snooze pauses and the customer's message resumes (due moved by exactly
the paused time); a policy edit never moves a running clock; a breach is an event on the spine and an alert on the
supervisor's console only (not an operator's, never another tenant's); validation; tenant isolation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from app.lib.db import current_uow, tenant_context
from tests.conftest import ShopFixture, make_shop, run_jobs_until
from tests.integration.test_chat import SITE, allow, say, start
from tests.integration.test_console import _console, _session
from tests.servers import InProcessServer

pytestmark = pytest.mark.xdist_group("realtime")


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def policy(client: Any, shop: ShopFixture, **body: Any) -> dict[str, Any]:
    resp = await client.post(api(shop, "/sla/policies"), json={"name": "Test", **body}, headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def clocks(client: Any, shop: ShopFixture, conversation_id: int) -> dict[tuple[str, int], dict[str, Any]]:
    resp = await client.get(api(shop, f"/conversations/{conversation_id}/sla"), headers=shop.auth)
    assert resp.status_code == 200, resp.text
    return {(c["metric"], c["cycle"]): c for c in resp.json()}


def at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


async def settle(client: Any, shop: ShopFixture, conversation_id: int, check: Any) -> dict[tuple[str, int], Any]:
    """Run the worker (jobs and durable listeners) until the conversation's clocks pass `check`."""
    found: dict[tuple[str, int], Any] = {}

    async def done() -> bool:
        found.clear()
        found.update(await clocks(client, shop, conversation_id))
        return bool(check(found))

    await run_jobs_until(done, timeout=20)
    return found


async def chat_conversation(client: Any, shop: ShopFixture, text: str = "Where is my parcel?") -> tuple[str, int]:
    await allow(client, shop, SITE)
    session = await start(client, shop)
    assert (await say(client, shop, session["token"], text)).status_code == 201
    rows = (await client.get(api(shop, "/conversations/waiting"), headers=shop.auth)).json()
    return session["token"], next(r["id"] for r in rows if r["channel"] == "chat")


async def test_first_response_next_response_and_resolution(fx_client: Any, fx_shop: ShopFixture) -> None:
    await policy(fx_client, fx_shop, channel="chat", first_response_seconds=300, next_response_seconds=600,
                 resolution_seconds=3600, warn_percent=80)
    token, conv = await chat_conversation(fx_client, fx_shop)
    found = await settle(fx_client, fx_shop, conv, lambda c: ("first_response", 0) in c and ("resolution", 0) in c)
    first = found[("first_response", 0)]
    assert first["state"] == "running" and first["target_seconds"] == 300
    assert at(first["due_at"]) - at(first["started_at"]) == dt.timedelta(seconds=300)
    assert at(first["warn_at"]) - at(first["started_at"]) == dt.timedelta(seconds=240)
    assert ("next_response", 1) not in found  # the customer's first message is what the first response answers

    assert (await fx_client.post(api(fx_shop, f"/conversations/{conv}/take"), headers=fx_shop.auth)).status_code == 200
    reply = await fx_client.post(api(fx_shop, f"/conversations/{conv}/chat"), json={"body": "Let me look."},
                                 headers=fx_shop.auth)
    assert reply.status_code == 201, reply.text
    found = await settle(fx_client, fx_shop, conv, lambda c: c[("first_response", 0)]["met_at"])
    assert found[("first_response", 0)]["state"] == "met" and found[("resolution", 0)]["state"] == "running"

    assert (await say(fx_client, fx_shop, token, "Any news?")).status_code == 201
    found = await settle(fx_client, fx_shop, conv, lambda c: ("next_response", 1) in c)
    nxt = found[("next_response", 1)]
    assert nxt["state"] == "running" and at(nxt["due_at"]) - at(nxt["started_at"]) == dt.timedelta(seconds=600)
    assert (await say(fx_client, fx_shop, token, "Hello?")).status_code == 201  # still owed: no second clock
    await fx_client.post(api(fx_shop, f"/conversations/{conv}/chat"), json={"body": "Found it."}, headers=fx_shop.auth)
    found = await settle(fx_client, fx_shop, conv, lambda c: c[("next_response", 1)]["met_at"])
    assert found[("next_response", 1)]["state"] == "met" and ("next_response", 2) not in found

    wrapped = await fx_client.post(api(fx_shop, f"/conversations/{conv}/wrapup"), json={"code": "solved", "note": ""},
                                   headers=fx_shop.auth)
    assert wrapped.status_code == 200, wrapped.text
    found = await settle(fx_client, fx_shop, conv, lambda c: c[("resolution", 0)]["met_at"])
    assert found[("resolution", 0)]["state"] == "met"
    running = (await fx_client.get(api(fx_shop, "/sla/clocks"), headers=fx_shop.auth)).json()
    assert conv not in [c["conversation_id"] for c in running]


async def test_snooze_pauses_and_the_customer_resumes_with_due_moved(fx_client: Any, fx_shop: ShopFixture) -> None:
    await policy(fx_client, fx_shop, channel="chat", resolution_seconds=7200, pause_statuses=["snoozed"])
    token, conv = await chat_conversation(fx_client, fx_shop)
    before = (await settle(fx_client, fx_shop, conv, lambda c: ("resolution", 0) in c))[("resolution", 0)]
    assert ("first_response", 0) not in await clocks(fx_client, fx_shop, conv)  # no target: no clock
    await fx_client.post(api(fx_shop, f"/conversations/{conv}/take"), headers=fx_shop.auth)
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).isoformat()
    snoozed = await fx_client.post(api(fx_shop, f"/conversations/{conv}/snooze"), json={"until": until},
                                   headers=fx_shop.auth)
    assert snoozed.status_code == 200, snoozed.text
    paused = (await settle(fx_client, fx_shop, conv, lambda c: c[("resolution", 0)]["paused_at"]))[("resolution", 0)]
    assert paused["state"] == "paused" and paused["due_at"] == before["due_at"]

    assert (await say(fx_client, fx_shop, token, "I am back")).status_code == 201  # wakes the snoozed conversation
    after = (await settle(fx_client, fx_shop, conv, lambda c: c[("resolution", 0)]["paused_at"] is None)
             )[("resolution", 0)]
    assert after["state"] == "running" and after["paused_seconds"] > 0
    moved = dt.timedelta(seconds=after["paused_seconds"])
    assert at(after["due_at"]) == at(before["due_at"]) + moved
    assert at(after["warn_at"]) == at(before["warn_at"]) + moved
    async with tenant_context(fx_shop.tenant):
        times = await current_uow().connection.fetch(
            "SELECT name, at FROM event_log WHERE name IN ('conversation.snoozed', 'conversation.reopened') "
            "AND (data ->> 'conversation_id')::int = $1 ORDER BY id", conv)
    assert [r["name"] for r in times] == ["conversation.snoozed", "conversation.reopened"]
    assert moved == times[1]["at"] - times[0]["at"]  # exactly the time it was snoozed


async def test_a_policy_edit_never_moves_a_running_clock(fx_client: Any, fx_shop: ShopFixture) -> None:
    rule = await policy(fx_client, fx_shop, channel="sms", first_response_seconds=3600, resolution_seconds=86400)
    first = (await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "sms"}, headers=fx_shop.auth)).json()
    before = await settle(fx_client, fx_shop, first["id"], lambda c: ("first_response", 0) in c)
    edited = await fx_client.put(api(fx_shop, f"/sla/policies/{rule['id']}"), json={
        "name": "Faster", "channel": "sms", "first_response_seconds": 60, "resolution_seconds": 600}, headers=fx_shop.auth)
    assert edited.status_code == 200, edited.text
    second = (await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "sms"}, headers=fx_shop.auth)).json()
    new = await settle(fx_client, fx_shop, second["id"], lambda c: ("first_response", 0) in c)
    assert new[("first_response", 0)]["target_seconds"] == 60
    kept = await clocks(fx_client, fx_shop, first["id"])
    for key in (("first_response", 0), ("resolution", 0)):
        assert kept[key]["target_seconds"] == before[key]["target_seconds"]
        assert kept[key]["due_at"] == before[key]["due_at"] and kept[key]["started_at"] == before[key]["started_at"]
    assert (await fx_client.delete(api(fx_shop, f"/sla/policies/{rule['id']}"), headers=fx_shop.auth)).status_code == 204
    assert (await clocks(fx_client, fx_shop, first["id"]))[("first_response", 0)]["due_at"] == before[
        ("first_response", 0)]["due_at"]


async def test_most_specific_policy_wins(fx_client: Any, fx_shop: ShopFixture) -> None:
    await fx_client.post(api(fx_shop, "/queues"), json={"key": "billing", "name": "Billing"}, headers=fx_shop.auth)
    await policy(fx_client, fx_shop, name="Everything", first_response_seconds=1000)
    await policy(fx_client, fx_shop, name="Email", channel="email", first_response_seconds=2000)
    await policy(fx_client, fx_shop, name="Billing", queue="billing", first_response_seconds=3000)
    clash = await fx_client.post(api(fx_shop, "/sla/policies"), json={"name": "Again", "channel": "email",
                                                                       "first_response_seconds": 5}, headers=fx_shop.auth)
    assert clash.status_code == 409 and "Email" in clash.json()["detail"]
    targets = {}
    for channel, queue in (("sms", "general"), ("email", "general"), ("email", "billing")):
        row = (await fx_client.post(api(fx_shop, "/conversations"), json={"channel": channel, "queue": queue},
                                    headers=fx_shop.auth)).json()
        found = await settle(fx_client, fx_shop, row["id"], lambda c: ("first_response", 0) in c)
        targets[(channel, queue)] = found[("first_response", 0)]["target_seconds"]
    assert targets == {("sms", "general"): 1000, ("email", "general"): 2000, ("email", "billing"): 3000}


async def test_bad_policies_get_a_message(fx_client: Any, fx_shop: ShopFixture) -> None:
    cases = [({"name": "x"}, "at least one target"),
             ({"name": "x", "first_response_seconds": 60, "queue": "nope"}, "Unknown queue"),
             ({"name": "x", "first_response_seconds": 60, "channel": "fax"}, "channel must be one of"),
             ({"name": "x", "first_response_seconds": 60, "pause_statuses": ["lunch"]}, "pause on"),
             ({"name": "x", "first_response_seconds": 0}, "first_response_seconds"),
             ({"name": "x", "first_response_seconds": 60, "warn_percent": 100}, "warn_percent"),
             ({"name": " ", "first_response_seconds": 60}, "name")]
    for body, words in cases:
        resp = await fx_client.post(api(fx_shop, "/sla/policies"), json=body, headers=fx_shop.auth)
        assert resp.status_code == 400, (body, resp.text)
        assert words in resp.text, (body, resp.text)


async def test_breach_is_an_event_and_a_live_alert_for_supervisors_only(
    fx_live: InProcessServer, fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    await policy(fx_client, fx_shop, channel="sms", first_response_seconds=2, warn_percent=50)
    await policy(fx_client, fx_other_shop, channel="sms", first_response_seconds=2, warn_percent=50)
    supervisor = await _console(fx_live, fx_shop, await _session(fx_shop, "supervisor"))
    operator = await _console(fx_live, fx_shop, await _session(fx_shop, "operator"))
    stranger = await _console(fx_live, fx_other_shop, await _session(fx_other_shop, "supervisor"))
    row = (await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "sms", "subject": "Late one"},
                                headers=fx_shop.auth)).json()

    async def breached() -> bool:
        async with tenant_context(fx_shop.tenant):
            return bool(await current_uow().connection.fetchval(
                "SELECT count(*) FROM event_log WHERE name = 'sla.breached'"))

    await run_jobs_until(breached, timeout=30)
    page = (await fx_client.get(api(fx_shop, "/events?limit=500"), headers=fx_shop.auth)).json()
    spine = [e for e in page["items"] if e["name"] in ("sla.warning", "sla.breached")]
    assert [e["name"] for e in spine] == ["sla.warning", "sla.breached"]
    assert spine[1]["data"]["conversation_id"] == row["id"] and spine[1]["data"]["metric"] == "first_response"
    found = await clocks(fx_client, fx_shop, row["id"])
    assert spine[1]["data"]["due_at"] == found[("first_response", 0)]["due_at"].replace("Z", "+00:00")
    assert found[("first_response", 0)]["state"] == "breached" and found[("first_response", 0)]["breached_at"]

    frames = await supervisor.until(lambda f: f.event == "sla.breached", wait=10)
    assert 'data-testid="sla-alert"' in frames[-1].text and 'data-kind="breached"' in frames[-1].text
    assert f'data-conversation-id="{row["id"]}"' in frames[-1].text
    op_frames = await operator.until(lambda f: f.event == "sla.breached", wait=10)
    assert "sla-alert" not in op_frames[-1].text  # the operator's console hears the event but gets no alert
    # Tenant B's supervisor heard nothing of A: B's own breach is the first SLA alert it gets.
    b_row = (await fx_client.post(api(fx_other_shop, "/conversations"), json={"channel": "sms", "subject": "B late"},
                                  headers=fx_other_shop.auth)).json()

    async def b_breached() -> bool:
        async with tenant_context(fx_other_shop.tenant):
            return bool(await current_uow().connection.fetchval(
                "SELECT count(*) FROM event_log WHERE name = 'sla.breached'"))

    await run_jobs_until(b_breached, timeout=30)
    b_frames = await stranger.until(lambda f: f.event == "sla.breached", wait=10)
    alerts = [f for f in b_frames if "sla-alert" in f.text]
    assert len(alerts) == 2 and all(f'data-conversation-id="{b_row["id"]}"' in f.text for f in alerts)
    assert not [f for f in b_frames if "Late one" in f.text]  # (ids repeat across workspaces; A's subject does not)
    for sock in (supervisor, operator, stranger):
        await sock.close()
    # The panel as it opens: A's overdue item for A's supervisor, nothing for an operator, nothing of A's for B.
    from app.sla import clocks as sla_clocks

    async with tenant_context(fx_shop.tenant):
        listed = await sla_clocks.alerts([row["queue_id"]])
    assert [(a["id"], a["kind"]) for a in listed] == [(row["id"], "breached")]
    async with tenant_context(fx_other_shop.tenant):
        assert [a["id"] for a in await sla_clocks.alerts([b_row["queue_id"]])] == [b_row["id"]]


async def test_tenant_b_cannot_read_or_edit_a_policies_or_clocks(fx_client: Any, fx_shop: ShopFixture) -> None:
    other = await make_shop("b")
    rule = await policy(fx_client, fx_shop, channel="sms", first_response_seconds=600)
    row = (await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "sms"}, headers=fx_shop.auth)).json()
    await settle(fx_client, fx_shop, row["id"], lambda c: ("first_response", 0) in c)
    assert (await fx_client.get(api(other, "/sla/policies"), headers=other.auth)).json() == []
    assert (await fx_client.get(api(other, f"/sla/policies/{rule['id']}"), headers=other.auth)).status_code == 404
    put = await fx_client.put(api(other, f"/sla/policies/{rule['id']}"), json={"name": "Hijack",
                                                                               "first_response_seconds": 1},
                              headers=other.auth)
    assert put.status_code == 404
    assert (await fx_client.delete(api(other, f"/sla/policies/{rule['id']}"), headers=other.auth)).status_code == 404
    assert (await fx_client.get(api(other, f"/conversations/{row['id']}/sla"), headers=other.auth)).status_code == 404
    assert (await fx_client.get(api(other, "/sla/clocks"), headers=other.auth)).json() == []
    # A's key on B's workspace is refused outright.
    assert (await fx_client.get(api(other, "/sla/policies"), headers=fx_shop.auth)).status_code in (401, 403, 404)
    mine = (await fx_client.get(api(fx_shop, f"/sla/policies/{rule['id']}"), headers=fx_shop.auth)).json()
    assert mine["name"] == "Test" and mine["first_response_seconds"] == 600


async def test_business_hours_due_waits_over_closed_days(fx_client: Any, fx_shop: ShopFixture) -> None:
    """The queue opens one hour a week (10:00-11:00 UTC, three days from today): a 90-minute business-hours target
    uses that hour and half an hour of the next week's, so it falls due more than a week later."""
    from zoneinfo import ZoneInfo

    from app.hours.clock import Hours

    day = (dt.datetime.now(dt.UTC).weekday() + 3) % 7
    cal = await fx_client.post(api(fx_shop, "/calendars"), json={
        "name": "One hour a week", "zone": "UTC", "public_holidays": False,
        "weekly": [{"weekday": day, "opens": "10:00", "closes": "11:00"}]}, headers=fx_shop.auth)
    assert cal.status_code == 201, cal.text
    queues = (await fx_client.get(api(fx_shop, "/queues"), headers=fx_shop.auth)).json()
    general = next(q["id"] for q in queues if q["key"] == "general")
    attached = await fx_client.put(api(fx_shop, f"/queue-hours/{general}"), json={"calendar_id": cal.json()["id"]},
                                   headers=fx_shop.auth)
    assert attached.status_code == 200, attached.text
    await policy(fx_client, fx_shop, channel="sms", first_response_seconds=5400, business_hours=True)
    await policy(fx_client, fx_shop, channel="email", first_response_seconds=5400, business_hours=False)
    sms = (await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "sms"}, headers=fx_shop.auth)).json()
    email = (await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "email"},
                                  headers=fx_shop.auth)).json()
    clock = (await settle(fx_client, fx_shop, sms["id"], lambda c: ("first_response", 0) in c))[("first_response", 0)]
    hours = Hours(zone=ZoneInfo("UTC"), weekly={day: [(dt.time(10), dt.time(11))]})
    started = at(clock["started_at"])
    assert at(clock["due_at"]) == hours.add(started, 5400) and at(clock["due_at"]) - started > dt.timedelta(days=7)
    assert at(clock["warn_at"]) == hours.add(started, 5400 * 0.8) and clock["business_hours"]
    wall = (await settle(fx_client, fx_shop, email["id"], lambda c: ("first_response", 0) in c))[("first_response", 0)]
    assert at(wall["due_at"]) - at(wall["started_at"]) == dt.timedelta(minutes=90)  # around the clock: same queue


async def test_waiting_for_the_customer_pauses_resolution_and_a_call_is_answered_by_taking_it(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    await policy(fx_client, fx_shop, channel="chat", resolution_seconds=3600, pause_statuses=["awaiting_customer"])
    token, conv = await chat_conversation(fx_client, fx_shop)
    before = (await settle(fx_client, fx_shop, conv, lambda c: ("resolution", 0) in c))[("resolution", 0)]
    await fx_client.post(api(fx_shop, f"/conversations/{conv}/take"), headers=fx_shop.auth)
    await fx_client.post(api(fx_shop, f"/conversations/{conv}/chat"), json={"body": "Could you send the order number?"},
                         headers=fx_shop.auth)
    paused = (await settle(fx_client, fx_shop, conv, lambda c: c[("resolution", 0)]["paused_at"]))[("resolution", 0)]
    assert paused["state"] == "paused"  # the last message is ours: the customer's turn
    assert (await say(fx_client, fx_shop, token, "It is 1042")).status_code == 201
    after = (await settle(fx_client, fx_shop, conv, lambda c: c[("resolution", 0)]["paused_at"] is None)
             )[("resolution", 0)]
    assert after["state"] == "running" and after["paused_seconds"] > 0
    assert at(after["due_at"]) == at(before["due_at"]) + dt.timedelta(seconds=after["paused_seconds"])

    await policy(fx_client, fx_shop, channel="call", first_response_seconds=30)
    call = (await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "call"}, headers=fx_shop.auth)).json()
    await settle(fx_client, fx_shop, call["id"], lambda c: ("first_response", 0) in c)
    assert (await fx_client.post(api(fx_shop, f"/conversations/{call['id']}/take"), headers=fx_shop.auth)
            ).status_code == 200
    found = await settle(fx_client, fx_shop, call["id"], lambda c: c[("first_response", 0)]["met_at"])
    assert found[("first_response", 0)]["state"] == "met"  # answering the call is the response


async def test_sla_settings_page_for_admins(fx_client: Any, fx_shop: ShopFixture) -> None:
    from tests.conftest import browser_login, csrf_from

    assert (await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)).status_code in (200, 302, 303)
    url = f"/t/{fx_shop.slug}/settings/sla/"
    token = await csrf_from(fx_client, url)
    form = {"_csrf": token, "name": "Email promise", "channel": "email", "first_response_value": "2",
            "first_response_unit": "hours", "resolution_value": "1", "resolution_unit": "hours",
            "pause_statuses": "snoozed", "warn_percent": "75"}
    added = await fx_client.post(url, data=form, headers={"accept": "text/html"})
    assert added.status_code == 200 and "Email promise" in added.text and 'data-testid="notice"' in added.text
    [row] = (await fx_client.get(api(fx_shop, "/sla/policies"), headers=fx_shop.auth)).json()
    assert (row["first_response_seconds"], row["resolution_seconds"], row["warn_percent"]) == (7200, 3600, 75)
    bad = await fx_client.post(url, data={**form, "name": "Other", "first_response_value": "soon"},
                               headers={"accept": "text/html"})
    assert bad.status_code == 400 and "whole number" in bad.text
    twice = await fx_client.post(url, data={**form, "name": "Same scope"}, headers={"accept": "text/html"})
    assert twice.status_code == 409 and "already covers" in twice.text
    edited = await fx_client.post(f"{url}{row['id']}", data={**form, "first_response_value": "30",
                                                             "first_response_unit": "minutes"},
                                  headers={"accept": "text/html"})
    assert edited.status_code == 200
    got = (await fx_client.get(api(fx_shop, f"/sla/policies/{row['id']}"), headers=fx_shop.auth)).json()
    assert got["first_response_seconds"] == 1800
    removed = await fx_client.post(f"{url}{row['id']}/delete", data={"_csrf": token}, headers={"accept": "text/html"})
    assert removed.status_code == 200 and 'data-testid="sla-none"' in removed.text
    audit = [a["action"] for a in (await fx_client.get(api(fx_shop, "/audit?limit=50"), headers=fx_shop.auth)
                                   ).json()["items"]]
    assert {"sla_policy.created", "sla_policy.updated", "sla_policy.deleted"} <= set(audit)


async def test_closing_stops_owed_responses_and_reopening_starts_a_new_resolution(fx_client: Any,
                                                                                  fx_shop: ShopFixture) -> None:
    await policy(fx_client, fx_shop, channel="sms", first_response_seconds=600, resolution_seconds=3600)
    row = (await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "sms"}, headers=fx_shop.auth)).json()
    await settle(fx_client, fx_shop, row["id"], lambda c: ("resolution", 0) in c)
    closed = await fx_client.post(api(fx_shop, f"/conversations/{row['id']}/close"), json={}, headers=fx_shop.auth)
    assert closed.status_code == 200, closed.text
    found = await settle(fx_client, fx_shop, row["id"], lambda c: c[("resolution", 0)]["met_at"])
    assert found[("first_response", 0)]["state"] == "stopped" and found[("resolution", 0)]["state"] == "met"
    reopened = await fx_client.post(api(fx_shop, f"/conversations/{row['id']}/reopen"), json={}, headers=fx_shop.auth)
    assert reopened.status_code == 200, reopened.text
    found = await settle(fx_client, fx_shop, row["id"], lambda c: ("resolution", 1) in c)
    assert found[("resolution", 1)]["state"] == "running" and found[("resolution", 0)]["state"] == "met"
    assert ("first_response", 1) not in found


async def test_operators_cannot_edit_policies_or_open_the_alerts_panel(fx_client: Any, fx_shop: ShopFixture) -> None:
    from tests.integration.test_conversation_actions import _user

    _, operator = await _user(fx_shop, "operator")
    _, supervisor = await _user(fx_shop, "supervisor")
    body = {"name": "Mine", "first_response_seconds": 60}
    assert (await fx_client.post(api(fx_shop, "/sla/policies"), json=body, headers=operator)).status_code == 403
    assert (await fx_client.get(api(fx_shop, "/sla/policies"), headers=operator)).status_code == 200  # reading is fine
    html = {"accept": "text/html"}
    assert (await fx_client.get(f"/t/{fx_shop.slug}/console/sla-alerts", headers={**operator, **html})
            ).status_code == 403
    panel = await fx_client.get(f"/t/{fx_shop.slug}/console/sla-alerts", headers={**supervisor, **html})
    assert panel.status_code == 200 and "sla-alert" not in panel.text  # nothing overdue yet
    assert (await fx_client.get(f"/t/{fx_shop.slug}/settings/sla/", headers={**supervisor, **html})).status_code == 403


async def test_timer_jobs_fire_once_wait_while_paused_and_follow_a_moved_due(fx_client: Any,
                                                                              fx_shop: ShopFixture) -> None:
    from app.lib import jobs
    from app.sla import clocks as sla_clocks

    await policy(fx_client, fx_shop, channel="sms", first_response_seconds=3600)
    row = (await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "sms"}, headers=fx_shop.auth)).json()
    clock = (await settle(fx_client, fx_shop, row["id"], lambda c: ("first_response", 0) in c))[("first_response", 0)]

    async with tenant_context(fx_shop.tenant):
        assert await jobs.pending(sla_clocks._key(clock["id"], "breach", at(clock["due_at"])))
        assert await sla_clocks.fire(clock["id"], "breach") is False  # not due yet: waits for its time again
        conn = current_uow().connection
        await conn.execute("UPDATE sla_clock SET paused_at = now() - interval '2 hours', due_at = now() - interval "
                           "'1 second' WHERE id = $1", clock["id"])
        assert await sla_clocks.fire(clock["id"], "breach") is False  # paused: resuming schedules anew
        await conn.execute("UPDATE sla_clock SET paused_at = NULL WHERE id = $1", clock["id"])
        assert await sla_clocks.fire(clock["id"], "breach") is True
        assert await sla_clocks.fire(clock["id"], "breach") is False  # once
        assert await sla_clocks.fire(clock["id"], "warn") is False  # the breach raised its warning already
    async with tenant_context(fx_shop.tenant):
        names = [r["name"] for r in await current_uow().connection.fetch(
            "SELECT name FROM event_log WHERE name LIKE 'sla.%' AND name <> 'sla.clocks_changed' ORDER BY id")]
    assert names == ["sla.warning", "sla.breached"]  # once each, the warning first even when the breach fired first
