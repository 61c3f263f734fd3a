"""Tasks: the service contract automations call, the API (create, list, complete, reschedule, validation),
recurrence, the card and the console, the scheduled jobs, and another shop's ids -> 404."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from app.accounts.services import Principal
from app.lib.db import current_uow, tenant_context
from tests.conftest import ShopFixture
from tests.integration.test_orders import api, make_contact


async def test_the_contract_creates_a_task_with_its_jobs_and_event(fx_client: Any, fx_shop: ShopFixture) -> None:
    """What the automation branch calls: services.create(None, ...) inside a unit of work."""
    from app.tasks import services

    c = await make_contact(fx_client, fx_shop, phones=["+14155550101"])
    due = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    async with tenant_context(fx_shop.tenant):
        task = await services.create(None, contact_id=c["id"], title="Call back about the refund", kind="callback",
                                     due_at=due, assignee_id=fx_shop.user_id, priority=2, note="asked twice")
    assert (task["kind"], task["status"], task["assignee_id"], task["priority"]) == ("callback", "open",
                                                                                     fx_shop.user_id, 2)
    async with tenant_context(fx_shop.tenant):
        scheduled = await services.scheduled_jobs(fx_shop.slug, [services.REMIND_JOB, services.OVERDUE_JOB])
        events = await current_uow().connection.fetch("SELECT name, data FROM event_log WHERE name = 'task.created'")
    assert sorted(j["entrypoint"] for j in scheduled) == [services.OVERDUE_JOB, services.REMIND_JOB]
    remind = next(j for j in scheduled if j["entrypoint"] == services.REMIND_JOB)
    assert abs((remind["due_at"] - (due - dt.timedelta(minutes=15))).total_seconds()) < 1
    assert [msgspec.json.decode(e["data"])["task_id"] for e in events] == [task["id"]]


def iso(when: dt.datetime) -> str:
    return when.isoformat()


async def test_api_creates_lists_completes_reschedules_and_refuses_bad_input(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    url = api(fx_shop, "/tasks")
    due = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1)
    resp = await fx_client.post(url, json={"contact_id": c["id"], "title": "Send the quote", "kind": "follow_up",
                                           "due_at": iso(due)}, headers=fx_shop.auth)
    assert resp.status_code == 201, resp.text
    task = resp.json()
    assert task["id"] and task["assignee_id"] == fx_shop.user_id and task["status"] == "open"
    assert dt.datetime.fromisoformat(task["due_at"]) == due and task["overdue"] is False

    for body, field in [({"contact_id": c["id"], "title": "x", "kind": "meeting"}, "kind"),
                        ({"contact_id": c["id"], "title": "  "}, "title"),
                        ({"contact_id": 999_999, "title": "x"}, "contact_id"),
                        ({"contact_id": c["id"], "title": "x", "due_at": "2026-12-01T10:00:00"}, "due_at"),
                        ({"contact_id": c["id"], "title": "x", "rrule": "FREQ=DAILY"}, "due_at"),
                        ({"contact_id": c["id"], "title": "x", "due_at": iso(due), "rrule": "FREQ=SOMETIMES"},
                         "rrule"),
                        ({"contact_id": c["id"], "title": "x", "assignee_id": 999_999}, "assignee_id"),
                        ({"contact_id": c["id"], "title": "x", "priority": 9}, "priority"),
                        ({"contact_id": c["id"], "title": "x", "order_id": 999_999}, "order_id")]:
        bad = await fx_client.post(url, json=body, headers=fx_shop.auth)
        assert bad.status_code == 400, (body, bad.text)
        assert bad.json()["errors"][0]["field"] == field, (body, bad.json())

    mine = (await fx_client.get(url, params={"status": "open", "assignee": "me"}, headers=fx_shop.auth)).json()
    assert [t["id"] for t in mine] == [task["id"]]
    assert (await fx_client.get(url, params={"assignee": "nobody"}, headers=fx_shop.auth)).status_code == 400
    assert (await fx_client.get(url, params={"status": "late"}, headers=fx_shop.auth)).status_code == 400
    ranged = (await fx_client.get(url, params={"due_from": iso(due + dt.timedelta(hours=1))},
                                  headers=fx_shop.auth)).json()
    assert ranged == []

    one = api(fx_shop, f"/tasks/{task['id']}")
    assert (await fx_client.patch(one, json={}, headers=fx_shop.auth)).status_code == 400
    assert (await fx_client.patch(one, json={"status": "open"}, headers=fx_shop.auth)).status_code == 400
    later = due + dt.timedelta(days=2)
    moved = await fx_client.patch(one, json={"due_at": iso(later)}, headers=fx_shop.auth)
    assert moved.status_code == 200 and dt.datetime.fromisoformat(moved.json()["due_at"]) == later
    jobs = (await fx_client.get(api(fx_shop, "/scheduled-jobs"), headers=fx_shop.auth)).json()
    reminders = sorted(dt.datetime.fromisoformat(j["due_at"]) for j in jobs if j["entrypoint"] == "tasks.remind")
    # The old time's jobs left the queue with the move; the new time's wait.
    assert len(reminders) == 1 and abs((reminders[0] - (later - dt.timedelta(minutes=15))).total_seconds()) < 5
    assert {j["entrypoint"] for j in jobs} == {"tasks.remind", "tasks.overdue"} and len(jobs) == 2

    done = await fx_client.patch(one, json={"status": "done", "outcome": "Quote sent"}, headers=fx_shop.auth)
    assert done.status_code == 200 and (done.json()["status"], done.json()["outcome"]) == ("done", "Quote sent")
    assert (await fx_client.get(api(fx_shop, "/scheduled-jobs"), headers=fx_shop.auth)).json() == []  # done: none
    again = await fx_client.patch(one, json={"status": "done"}, headers=fx_shop.auth)
    assert again.status_code == 400 and again.json()["errors"][0]["field"] == "status"
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{c['id']}/timeline"), params={"channel": "system"},
                                    headers=fx_shop.auth)).json()["items"]
    events = [i["payload"].get("event") for i in timeline]
    assert {"task_created", "task_rescheduled", "task_done"} <= set(events)
    other = (await fx_client.post(url, json={"contact_id": c["id"], "title": "Call back", "kind": "callback"},
                                  headers=fx_shop.auth)).json()
    missed = await fx_client.patch(api(fx_shop, f"/tasks/{other['id']}"), json={"status": "missed",
                                                                                "outcome": "No answer twice"},
                                   headers=fx_shop.auth)
    assert missed.status_code == 200 and missed.json()["status"] == "missed"
    assert (await fx_client.get(url, params={"status": "missed"}, headers=fx_shop.auth)).json()[0]["id"] == other["id"]

    # Another shop sees none of it, and cannot reach it by id.
    assert (await fx_client.get(api(fx_other_shop, "/tasks"), headers=fx_other_shop.auth)).json() == []
    for method, body in [("GET", None), ("PATCH", {"status": "cancelled"})]:
        assert (await fx_client.request(method, api(fx_other_shop, f"/tasks/{task['id']}"), json=body,
                                        headers=fx_other_shop.auth)).status_code == 404
    foreign = await fx_client.post(api(fx_other_shop, "/tasks"), json={"contact_id": c["id"], "title": "steal"},
                                   headers=fx_other_shop.auth)
    assert foreign.status_code == 400 and foreign.json()["errors"][0]["field"] == "contact_id"
    assert (await fx_client.get(api(fx_other_shop, "/scheduled-jobs"), headers=fx_other_shop.auth)).json() == []


async def test_completing_a_recurring_task_opens_the_next_occurrence_once(fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    due = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)  # a Monday
    resp = await fx_client.post(api(fx_shop, "/tasks"), json={
        "contact_id": c["id"], "title": "Weekly check-in", "kind": "callback", "due_at": iso(due),
        "rrule": "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=2"}, headers=fx_shop.auth)
    assert resp.status_code == 201, resp.text
    first = resp.json()
    done = (await fx_client.patch(api(fx_shop, f"/tasks/{first['id']}"), json={"status": "done"},
                                  headers=fx_shop.auth)).json()
    assert done["next_id"]
    nxt = (await fx_client.get(api(fx_shop, f"/tasks/{done['next_id']}"), headers=fx_shop.auth)).json()
    assert (nxt["title"], nxt["kind"], nxt["status"], nxt["previous_id"]) == ("Weekly check-in", "callback", "open",
                                                                               first["id"])
    assert dt.datetime.fromisoformat(nxt["due_at"]) == due + dt.timedelta(days=7)
    last = (await fx_client.patch(api(fx_shop, f"/tasks/{nxt['id']}"), json={"status": "done"},
                                  headers=fx_shop.auth)).json()
    assert last.get("next_id") is None  # COUNT=2: the rule has ended
    open_ = (await fx_client.get(api(fx_shop, "/tasks"), params={"contact_id": c["id"], "status": "open"},
                                 headers=fx_shop.auth)).json()
    assert open_ == []


async def test_card_console_and_home_show_tasks_and_the_wrap_up_form_creates_a_callback(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    from app.conversations import services as conversations
    from tests.conftest import browser_login, csrf_from

    c = await make_contact(fx_client, fx_shop, name="Grace Caller")
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    base = f"/t/{fx_shop.slug}"
    card = await fx_client.get(f"{base}/contacts/{c['id']}", headers={"accept": "text/html"})
    assert 'data-testid="card-tasks-loader"' in card.text
    token = await csrf_from(fx_client, f"{base}/contacts/{c['id']}")
    htmx = {"X-CSRF-Token": token, "HX-Request": "true", "accept": "text/html"}
    bad = await fx_client.post(f"{base}/contacts/{c['id']}/tasks/", data={"title": "", "kind": "todo"}, headers=htmx)
    assert bad.status_code == 400 and "title must be" in bad.text
    made = await fx_client.post(f"{base}/contacts/{c['id']}/tasks/", headers=htmx, data={
        "title": "Send samples", "kind": "follow_up", "due_at": "2020-01-01T10:00", "priority": "2"})
    assert made.status_code == 200 and "Send samples" in made.text and 'data-overdue="true"' in made.text
    panel = await fx_client.get(f"{base}/contacts/{c['id']}/tasks/", headers={"accept": "text/html"})
    assert panel.status_code == 200 and "Send samples" in panel.text
    missing = await fx_client.get(f"{base}/contacts/999999/tasks/", headers={"accept": "text/html"})
    assert missing.status_code == 404

    async with tenant_context(fx_shop.tenant):
        conv = await conversations.open_conversation(channel="sms", contact_id=c["id"], subject="Where is it?")
        await conversations.take(Principal(fx_shop.user_id, fx_shop.email, "Owner", "owner", "session", 0), conv["id"])
    console = await fx_client.get(f"{base}/console/", headers={"accept": "text/html"})
    assert 'data-testid="my-tasks-loader"' in console.text and 'data-testid="quick-callback"' in console.text
    quick = await fx_client.post(f"{base}/tasks/quick", headers=htmx, data={
        "conversation_id": str(conv["id"]), "due_at": "2031-05-02T10:00"})
    assert quick.status_code == 200 and "Call back Grace Caller" in quick.text, quick.text
    mine = await fx_client.get(f"{base}/tasks/mine", headers={"accept": "text/html"})
    assert "Call back Grace Caller" in mine.text and "Send samples" in mine.text
    async with tenant_context(fx_shop.tenant):
        await current_uow().connection.execute("UPDATE workspace SET onboarding_done = true")
    home = await fx_client.get(f"{base}/", headers={"accept": "text/html"})
    assert 'data-testid="my-tasks-loader"' in home.text
    listed = await fx_client.get(f"{base}/tasks/", params={"kind": "callback", "assignee": "me"},
                                 headers={"accept": "text/html"})
    assert "Call back Grace Caller" in listed.text and "Send samples" not in listed.text
    task = (await fx_client.get(api(fx_shop, "/tasks"), params={"kind": "callback"}, headers=fx_shop.auth)).json()[0]
    assert task["conversation_id"] == conv["id"] and task["kind"] == "callback"
    local = dt.datetime.fromisoformat(task["due_at"])
    assert (local.hour, local.minute) == (10, 0)  # the owner has no zone: UTC
    scheduled = await fx_client.get(f"{base}/settings/scheduled/", headers={"accept": "text/html"})
    assert scheduled.status_code == 200 and "tasks.remind" in scheduled.text


async def test_the_demo_operator_has_an_overdue_a_due_soon_and_a_recurring_task(fx_db: str) -> None:
    from app import demo
    from app.lib.db import resolve_active
    from app.tasks import services

    await demo.ensure_demo()
    tenant = await resolve_active(demo.DEMO_SLUG)
    assert tenant is not None
    async with tenant_context(tenant):
        operator = await current_uow().connection.fetchval("SELECT id FROM app_user WHERE email = $1",
                                                           demo.DEMO_OPERATOR[0])
        mine = await services.mine(operator)
    assert len(mine) == 3
    assert [t["overdue"] for t in mine] == [True, False, False] and mine[2]["rrule"] == "FREQ=WEEKLY"
    assert mine[0]["kind"] == "callback" and mine[1]["due_at"] - mine[0]["due_at"] < dt.timedelta(hours=3)


async def test_a_recurring_task_done_late_skips_the_occurrences_already_past(fx_client: Any,
                                                                            fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    due = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3, hours=1)).replace(microsecond=0)
    first = (await fx_client.post(api(fx_shop, "/tasks"), json={
        "contact_id": c["id"], "title": "Daily stock call", "due_at": iso(due), "rrule": "FREQ=DAILY"},
        headers=fx_shop.auth)).json()
    done = (await fx_client.patch(api(fx_shop, f"/tasks/{first['id']}"), json={"status": "done"},
                                  headers=fx_shop.auth)).json()
    nxt = (await fx_client.get(api(fx_shop, f"/tasks/{done['next_id']}"), headers=fx_shop.auth)).json()
    assert dt.datetime.fromisoformat(nxt["due_at"]) == due + dt.timedelta(days=4) and nxt["overdue"] is False


async def test_a_weekly_task_keeps_its_local_time_across_the_change_to_summer_time(fx_client: Any,
                                                                                    fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    async with tenant_context(fx_shop.tenant):
        await current_uow().connection.execute("UPDATE app_user SET timezone = 'Europe/Sofia' WHERE id = $1",
                                               fx_shop.user_id)
    due = dt.datetime(2027, 3, 22, 8, 0, tzinfo=dt.UTC)  # Monday 10:00 in Sofia (UTC+2); summer time from the 28th
    first = (await fx_client.post(api(fx_shop, "/tasks"), json={
        "contact_id": c["id"], "title": "Monday stock call", "due_at": iso(due), "rrule": "FREQ=WEEKLY"},
        headers=fx_shop.auth)).json()
    done = (await fx_client.patch(api(fx_shop, f"/tasks/{first['id']}"), json={"status": "done"},
                                  headers=fx_shop.auth)).json()
    nxt = (await fx_client.get(api(fx_shop, f"/tasks/{done['next_id']}"), headers=fx_shop.auth)).json()
    assert dt.datetime.fromisoformat(nxt["due_at"]) == dt.datetime(2027, 3, 29, 7, 0, tzinfo=dt.UTC)  # 10:00 (UTC+3)
