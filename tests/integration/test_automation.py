"""Automation end to end: an SMS through the simulator fires a rule (tag, reply) logged leaf by leaf; loops stop at
depth 3; a wait re-checks its conditions; one run per (rule, event) with two worker processes; tenants apart."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from app import demo
from app.automation import services as automation
from app.lib.db import resolve_active, tenant_context
from telephony.simulator import Simulator
from tests.conftest import ShopFixture
from tests.integration.automation_kit import api, due_now, make_rule, queued, runs, settle, tenant_rows
from tests.integration.telephony_kit import connect, run_jobs, sim_fixture  # noqa: F401

REPO = Path(__file__).resolve().parents[2]


def sent_to(sim: Simulator, number: str) -> list[str]:
    return [m.body for m in sim.messages.values() if m.to == number and m.direction == "outbound-api"]


async def test_inbound_sms_fires_a_rule_that_tags_and_replies_and_logs_each_leaf(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    customer = "+14155550142"
    rule = await make_rule(fx_client, fx_shop, name="Refund requests", event="message.received", conditions={
        "all": [{"field": "message.body", "op": "contains", "value": "refund"},
                {"any": [{"field": "message.channel", "op": "equals", "value": "sms"},
                         {"not": {"field": "contact.tags", "op": "contains", "value": "blocked"}}]}]},
        actions=[{"type": "add_tag", "tag": "refund"},
                 {"type": "create_task", "title": "Refund: {{ message.body }}", "kind": "follow_up",
                  "due_in_minutes": 120},
                 {"type": "reply", "body": "We got your refund request, {{ contact.first_name or 'friend' }}."}])
    assert rule["version"] == 1 and rule["enabled"]
    fx_sim.send_sms(customer, line.number, "Hello, I want a REFUND please")
    fx_sim.send_sms("+14155550143", line.number, "Where is my parcel?")  # does not match
    await fx_sim.settle()
    await run_jobs(fx_shop)
    await settle(fx_shop)
    await fx_sim.settle()

    logged = await runs(fx_client, fx_shop, rule_id=rule["id"])
    assert sorted(r["status"] for r in logged) == ["done", "not_matched"]
    done = next(r for r in logged if r["status"] == "done")
    assert done["event_name"] == "message.received" and done["version"] == 1 and done["event_id"]
    body_leaf = next(leaf for leaf in done["leaves"] if leaf["field"] == "message.body")
    assert body_leaf["actual"] == "Hello, I want a REFUND please" and body_leaf["result"] is True
    channel_leaf = next(leaf for leaf in done["leaves"] if leaf["field"] == "message.channel")
    assert channel_leaf["actual"] == "sms" and channel_leaf["result"] is True
    assert [(a["type"], a["status"]) for a in done["actions"]] == [("add_tag", "done"), ("create_task", "done"),
                                                                   ("reply", "done")]
    missed = next(r for r in logged if r["status"] == "not_matched")
    assert next(leaf for leaf in missed["leaves"] if leaf["field"] == "message.body")["result"] is False

    card = (await fx_client.get(api(fx_shop, f"/contacts/{done['contact_id']}"), headers=fx_shop.auth)).json()
    assert "refund" in card["tags"]
    assert sent_to(fx_sim, customer) == ["We got your refund request, friend."]
    [task] = await tenant_rows(fx_shop, "SELECT contact, conversation, kind, title, status FROM task")
    assert (task["contact"], task["conversation"], task["kind"], task["status"]) == (
        done["contact_id"], done["conversation_id"], "follow_up", "open")
    assert task["title"] == "Refund: Hello, I want a REFUND please"
    assert sent_to(fx_sim, "+14155550143") == []
    per_contact = await runs(fx_client, fx_shop, contact_id=done["contact_id"])
    assert [r["id"] for r in per_contact] == [done["id"]]
    [reply_sid] = [m.sid for m in fx_sim.messages.values() if m.to == customer and m.direction == "outbound-api"]
    assert [r["id"] for r in await runs(fx_client, fx_shop, q=reply_sid)] == [done["id"]]  # the reply's outcome


async def test_a_rule_that_feeds_itself_stops_at_depth_three(fx_client: Any, fx_shop: ShopFixture) -> None:
    rule = await make_rule(fx_client, fx_shop, name="Echo", event="contact.updated",
                           actions=[{"type": "remove_tag", "tag": "echo"}, {"type": "add_tag", "tag": "echo"}])
    contact = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Loop"}, headers=fx_shop.auth)).json()
    resp = await fx_client.patch(api(fx_shop, f"/contacts/{contact['id']}"), json={"company": "Acme"},
                                 headers=fx_shop.auth)
    assert resp.status_code == 200, resp.text
    await settle(fx_shop, waiting_ok=False)
    logged = await runs(fx_client, fx_shop, rule_id=rule["id"], limit=200)
    by_depth: dict[int, list[str]] = {}
    for run in logged:
        by_depth.setdefault(run["depth"], []).append(run["status"])
    assert sorted(by_depth) == [0, 1, 2, 3]
    assert all(s == "done" for d in (0, 1, 2) for s in by_depth[d])
    assert by_depth[3] and set(by_depth[3]) == {"depth_limit"}
    events = await tenant_rows(fx_shop, "SELECT max((data->>'_depth')::int) AS d FROM event_log "
                                        "WHERE name = 'contact.updated'")
    assert events[0]["d"] == 3  # nothing was caused at depth 4


async def test_a_wait_checks_the_conditions_again_when_it_ends(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    rule = await make_rule(fx_client, fx_shop, name="Nudge", event="message.sent", rate_limit=1, conditions={
        "all": [{"field": "message.answered", "op": "equals", "value": "no"}]},
        actions=[{"type": "wait", "minutes": 60}, {"type": "send_sms", "body": "Just checking in: any news?"}])
    quiet, replier = "+14155550171", "+14155550172"
    ids = {}
    for number in (quiet, replier):
        c = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": number, "phones": [number]},
                                  headers=fx_shop.auth)).json()
        ids[number] = c["id"]
        sent = await fx_client.post(api(fx_shop, f"/contacts/{c['id']}/sms"), json={"body": "Shall we book you?"},
                                    headers=fx_shop.auth)
        assert sent.status_code == 201, sent.text
    await settle(fx_shop)
    assert await queued(fx_shop, "automation.resume") == 2  # both runs wait
    fx_sim.send_sms(replier, line.number, "Yes please!")  # the customer answered during the wait
    await fx_sim.settle()
    await run_jobs(fx_shop)
    await settle(fx_shop)
    assert await due_now(fx_shop) == 2
    await settle(fx_shop)
    await fx_sim.settle()

    assert sent_to(fx_sim, quiet) == ["Shall we book you?", "Just checking in: any news?"]
    assert sent_to(fx_sim, replier) == ["Shall we book you?"]
    [stopped] = await runs(fx_client, fx_shop, rule_id=rule["id"], contact_id=ids[replier])
    assert stopped["status"] == "stopped"
    recheck = [leaf for leaf in stopped["leaves"] if leaf.get("phase") == "recheck"]
    assert recheck == [{"field": "message.answered", "op": "equals", "value": "no", "actual": "yes",
                        "result": False, "phase": "recheck"}]
    assert [a["status"] for a in stopped["actions"]] == ["done", "skipped"]
    quiet_runs = await runs(fx_client, fx_shop, rule_id=rule["id"], contact_id=ids[quiet])
    # The reminder is itself a message.sent: its run is held back by the rule's limit of one per hour.
    assert sorted(r["status"] for r in quiet_runs) == ["done", "rate_limited"]


async def test_one_run_per_rule_and_event_with_two_worker_processes(fx_client: Any, fx_shop: ShopFixture) -> None:
    rule = await make_rule(fx_client, fx_shop, name="Count", event="note.added",
                           actions=[{"type": "set_temperature", "temperature": "warm"},
                                    {"type": "notify_user", "user_id": fx_shop.user_id, "text": "note on {{ contact.name }}"}])
    contact = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Twice"}, headers=fx_shop.auth)).json()
    workers = [subprocess.Popen([sys.executable, "-c", "from app.cli import main; main(['worker'])"], cwd=REPO,
                                env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for _ in range(2)]
    try:
        for i in range(40):
            resp = await fx_client.post(api(fx_shop, f"/contacts/{contact['id']}/notes"), json={"body": f"n{i}"},
                                        headers=fx_shop.auth)
            assert resp.status_code == 201, resp.text
        for _ in range(600):
            done = await tenant_rows(fx_shop, "SELECT count(*) AS n FROM automation_run WHERE rule = $1 "
                                              "AND status = 'done'", rule["id"])
            if done[0]["n"] >= 40:
                break
            await asyncio.sleep(0.1)
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.wait(30)
    per_event = await tenant_rows(fx_shop, "SELECT event_id, count(*) AS n FROM automation_run WHERE rule = $1 "
                                           "GROUP BY event_id", rule["id"])
    assert len(per_event) == 40 and {r["n"] for r in per_event} == {1}
    toasts = await tenant_rows(fx_shop, "SELECT count(*) AS n FROM event_log WHERE name = 'automation.notified'")
    assert toasts[0]["n"] == 40  # each action's effect once


async def test_a_rule_of_one_tenant_never_sees_another_tenants_events(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    rule = await make_rule(fx_client, fx_shop, name="Welcome", event="contact.created",
                           actions=[{"type": "add_tag", "tag": "welcomed"}])
    for name in ("Elsewhere", "Far", "Away"):  # ids are per workspace: the last one has no namesake in A
        other = (await fx_client.post(api(fx_other_shop, "/contacts"), json={"name": name},
                                      headers=fx_other_shop.auth)).json()
    mine = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Here"}, headers=fx_shop.auth)).json()
    await settle(fx_other_shop, waiting_ok=False)
    await settle(fx_shop, waiting_ok=False)
    assert [r["contact_id"] for r in await runs(fx_client, fx_shop, rule_id=rule["id"])] == [mine["id"]]
    theirs = (await fx_client.get(api(fx_other_shop, f"/contacts/{other['id']}"), headers=fx_other_shop.auth)).json()
    assert "welcomed" not in theirs["tags"]
    assert (await fx_client.get(api(fx_other_shop, f"/automation/rules/{rule['id']}"),
                                headers=fx_other_shop.auth)).status_code == 404
    assert await runs(fx_client, fx_other_shop) == []
    test = await fx_client.post(api(fx_shop, f"/automation/rules/{rule['id']}/test"),
                                json={"record": "contact", "record_id": other["id"]}, headers=fx_shop.auth)
    assert other["id"] > mine["id"] and test.status_code == 404  # another workspace's contact is no record here


async def test_a_failing_action_is_retried_then_recorded_failed_while_the_others_go_on(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    bad = await fx_client.post(api(fx_shop, "/automation/rules"), headers=fx_shop.auth, json={
        "name": "Bad", "event": "note.added", "conditions": {"all": [{"field": "contact.tags", "op": "resembles"}]}})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "conditions.all[0].op"
    rule = await make_rule(fx_client, fx_shop, name="Mixed", event="note.added", actions=[
        {"type": "move_to_queue", "queue": "general"},  # a note has no conversation: this step cannot succeed
        {"type": "add_tag", "tag": "noted"},
        {"type": "call_webhook", "url": "http://127.0.0.1:9/hooks/crm"}])
    contact = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Nora"}, headers=fx_shop.auth)).json()
    await fx_client.post(api(fx_shop, f"/contacts/{contact['id']}/notes"), json={"body": "hi"}, headers=fx_shop.auth)
    await settle(fx_shop)
    [run] = await runs(fx_client, fx_shop, rule_id=rule["id"])
    assert run["status"] == "retrying"
    assert [(a["status"], a["attempts"]) for a in run["actions"]] == [("retrying", 1), ("done", 1), ("done", 1)]
    assert run["actions"][0]["error"] == {"text": "This event has no %(entity)s to act on.",
                                          "params": {"entity": "conversation"}}  # shown in the reader's language
    for attempt in (2, 3):
        assert await due_now(fx_shop, "automation.retry_step") == 1
        await settle(fx_shop)
        [run] = await runs(fx_client, fx_shop, rule_id=rule["id"])
        assert run["actions"][0]["attempts"] == attempt
    assert run["actions"][0]["status"] == "failed" and run["status"] == "partial"
    assert await queued(fx_shop, "automation.retry_step") == 0
    card = (await fx_client.get(api(fx_shop, f"/contacts/{contact['id']}"), headers=fx_shop.auth)).json()
    assert card["tags"] == ["noted"]  # done once, not again with each retry
    [delivery] = await tenant_rows(fx_shop, "SELECT url, event_type, causation FROM webhook_delivery")
    assert delivery["url"] == "http://127.0.0.1:9/hooks/crm" and delivery["event_type"] == "note.added"


async def test_demo_shop_has_starter_rules_one_enabled_and_logged_runs(fx_client: Any) -> None:
    await demo.ensure_demo()
    first = await demo.ensure_demo_automation()
    assert await demo.ensure_demo_automation() is False  # once: an admin's later changes are kept
    tenant = await resolve_active(demo.DEMO_SLUG)
    assert tenant is not None
    async with tenant_context(tenant):
        rules = await automation.list_rules()
        logged = await automation.runs(limit=50)
    assert first is True or rules  # an earlier test of this session may have made them already
    assert [(r["starter"], r["enabled"]) for r in rules] == [("hot_after_big_order", True), ("", False)]
    assert logged and {r["rule_id"] for r in logged} == {rules[0]["id"]}
    assert {r["status"] for r in logged} <= {"done", "not_matched"} and any(r["leaves"] for r in logged)


async def test_a_scheduled_rule_fires_once_over_matching_contacts_and_plans_the_next(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    bad = await fx_client.post(api(fx_shop, "/automation/rules"), headers=fx_shop.auth, json={
        "name": "Weekly", "trigger": "schedule", "schedule": "every monday"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "schedule"
    vip = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Vic", "tags": ["vip"]},
                                headers=fx_shop.auth)).json()
    plain = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Pat"}, headers=fx_shop.auth)).json()
    rule = await make_rule(fx_client, fx_shop, name="Weekly VIP check", trigger="schedule", schedule="0 9 * * 1",
                           conditions={"all": [{"op": "has_tag", "value": "vip"}]},
                           actions=[{"type": "set_temperature", "temperature": "warm"}])
    assert rule["next_run_at"] and rule["event"] == ""
    await settle(fx_shop)
    assert await queued(fx_shop, "automation.schedule") == 1
    assert await due_now(fx_shop, "automation.schedule") == 1
    await settle(fx_shop)
    logged = await runs(fx_client, fx_shop, rule_id=rule["id"])
    assert [(r["contact_id"], r["event_name"], r["status"]) for r in logged] == [(vip["id"], "schedule", "done")]
    assert (await fx_client.get(api(fx_shop, f"/contacts/{vip['id']}"), headers=fx_shop.auth)).json()[
        "temperature"] == "warm"
    assert (await fx_client.get(api(fx_shop, f"/contacts/{plain['id']}"), headers=fx_shop.auth)).json()[
        "temperature"] != "warm"
    assert await queued(fx_shop, "automation.schedule") == 1  # the next Monday, once
    disabled = await fx_client.post(api(fx_shop, f"/automation/rules/{rule['id']}/disable"), headers=fx_shop.auth)
    assert disabled.json()["next_run_at"] is None
    await due_now(fx_shop, "automation.schedule")
    await settle(fx_shop)
    assert len(await runs(fx_client, fx_shop, rule_id=rule["id"])) == 1  # a disabled rule's firing does nothing
