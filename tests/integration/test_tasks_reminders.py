"""Reminders: at due - remind_before the assignee's sockets get a toast (and "My tasks" again), nobody else's and no
other shop's; an email in the assignee's language; a reminder job run twice fires once; overdue turns red and tells
the supervisors; a callback task at its time opens a waiting call in its queue."""

from __future__ import annotations

import datetime as dt
import email.header
from typing import Any

import pytest

from app.conversations.tables import Conversation, Queue
from app.lib import i18n
from app.lib.db import current_uow, tenant_context
from app.tasks import jobs as task_jobs
from app.tasks import services
from tests.conftest import ShopFixture, run_jobs_until
from tests.integration.test_orders import make_contact
from tests.integration.test_realtime_ws import ORIGIN, add_user, emit, login
from tests.servers import ConsoleSocket, Frame

pytestmark = pytest.mark.xdist_group("realtime")


async def _connect(server: Any, shop: ShopFixture, user_id: int | None = None) -> ConsoleSocket:
    sock = await ConsoleSocket.open(server.ws_url, shop.slug, (await login(shop, user_id))[0], ORIGIN)
    await sock.ready()
    return sock


def toasts(frames: list[Frame]) -> list[Frame]:
    return [f for f in frames if 'data-testid="task-toast"' in f.text]


async def _due_events(shop: ShopFixture, name: str = "task.due") -> list[int]:
    async with tenant_context(shop.tenant):
        rows = await current_uow().connection.fetch(
            "SELECT (data::jsonb ->> 'task_id')::int AS task_id FROM event_log WHERE name = $1 ORDER BY id", name)
    return [r["task_id"] for r in rows]


async def test_a_reminder_reaches_the_assignees_sockets_only_and_their_inbox_in_their_language(
        fx_live: Any, fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture, fx_inbox: Any) -> None:
    c = await make_contact(fx_client, fx_shop, name="Lin Customer")
    async with tenant_context(fx_shop.tenant):
        await current_uow().connection.execute("UPDATE app_user SET language = 'bg', timezone = 'Europe/Sofia' "
                                               "WHERE id = $1", fx_shop.user_id)
    colleague_id = await add_user(fx_shop, "operator")
    mine = await _connect(fx_live, fx_shop)
    colleague = await _connect(fx_live, fx_shop, colleague_id)
    stranger = await _connect(fx_live, fx_other_shop)

    due = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=3)
    async with tenant_context(fx_shop.tenant):
        task = await services.create(None, contact_id=c["id"], title="Confirm the delivery slot", kind="follow_up",
                                     due_at=due, assignee_id=fx_shop.user_id, remind_before=5)

    def to_owner() -> list[Any]:  # the worker runs every shop's jobs: other tests' mails may come too
        return [m for m in fx_inbox.messages if m["To"] == fx_shop.email]

    async def reminded() -> bool:
        return len(to_owner()) >= 1

    await run_jobs_until(reminded, timeout=30)
    got = await mine.until(lambda f: bool(toasts([f])), wait=15)
    toast = toasts(got)[0]
    assert "Confirm the delivery slot" in toast.text and f'data-task-id="{task["id"]}"' in toast.text
    assert 'id="my-tasks"' in toast.text  # "My tasks" comes again with it

    # Anything meant for the colleague or the other shop would come before a later event of their own channel.
    last = await emit(fx_shop, "contact.updated", {"contact_id": c["id"]})
    assert not toasts(await colleague.until(lambda f: f.event_id == last))
    other_last = await emit(fx_other_shop, "contact.updated", {"contact_id": 1})
    assert not toasts(await stranger.until(lambda f: f.event_id == other_last))

    [mail] = to_owner()
    subject = str(email.header.make_header(email.header.decode_header(mail["Subject"])))
    assert subject.startswith("Напомняне: Confirm the delivery slot в "), subject  # Bulgarian, the owner's language
    with i18n.viewing("bg", "Europe/Sofia"):
        assert subject.endswith(i18n.format_datetime(task["due_at"]))  # the time in the assignee's zone
    assert await _due_events(fx_shop) == [task["id"]]
    for s in (mine, colleague, stranger):
        await s.close()


async def test_a_reminder_or_overdue_job_run_twice_fires_once_and_a_moved_task_ignores_its_old_job(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    due = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    async with tenant_context(fx_shop.tenant):
        task = await services.create(None, contact_id=c["id"], title="Twice", due_at=due, assignee_id=fx_shop.user_id)
        moved = await services.create(None, contact_id=c["id"], title="Moved", due_at=due,
                                      assignee_id=fx_shop.user_id)
        await services.update(None, moved["id"], due_at=due + dt.timedelta(days=1))
    for _ in range(2):
        for fn in (task_jobs.remind, task_jobs.overdue):
            for t in (task, moved):
                await fn({"tenant": fx_shop.slug, "task_id": t["id"], "due_at": due.isoformat()})
    assert await _due_events(fx_shop) == [task["id"]]
    assert await _due_events(fx_shop, "task.overdue") == [task["id"]]
    overdue = (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/tasks/{task['id']}", headers=fx_shop.auth)).json()
    assert overdue["reminded_at"]
    async with tenant_context(fx_shop.tenant):
        supervisors = await current_uow().connection.fetchval(
            "SELECT channels FROM event_log WHERE name = 'task.overdue'")
    assert "role:supervisor" in supervisors

    # A job names its tenant: another shop's job with this task's id finds nothing of this shop.
    async with tenant_context(fx_other_shop.tenant):
        await current_uow().connection.execute("DELETE FROM event_log")
    await task_jobs.remind({"tenant": fx_other_shop.slug, "task_id": moved["id"],
                            "due_at": (due + dt.timedelta(days=1)).isoformat()})
    assert await _due_events(fx_other_shop) == [] and await _due_events(fx_shop) == [task["id"]]


async def test_a_callback_task_at_its_time_opens_a_waiting_call_in_its_queue(fx_client: Any,
                                                                              fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop, name="Ring Back", phones=["+14155550199"])
    async with tenant_context(fx_shop.tenant):
        queue = await Queue.select(Queue.id).first()
        task = await services.create(None, contact_id=c["id"], title="Call about the invoice", kind="callback",
                                     due_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1), queue_id=queue["id"])

    async def routed() -> bool:
        async with tenant_context(fx_shop.tenant):
            return bool(await Conversation.exists().where(Conversation.external_ref == f"task:{task['id']}"))

    await run_jobs_until(routed, timeout=30)
    async with tenant_context(fx_shop.tenant):
        conv = await Conversation.select().where(Conversation.external_ref == f"task:{task['id']}").first()
    assert (conv["channel"], conv["status"], conv["queue"], conv["from_address"], conv["contact"]) == (
        "call", "waiting", queue["id"], "+14155550199", c["id"])
    assert conv["callback_number"] == "+14155550199" and conv["callback_requested_at"] is not None
    await task_jobs.route_callback({"tenant": fx_shop.slug, "task_id": task["id"],
                                    "due_at": task["due_at"].isoformat()})  # run again: nothing more
    async with tenant_context(fx_shop.tenant):
        count = await Conversation.count().where(Conversation.external_ref == f"task:{task['id']}")
        linked = await services.get(task["id"])
    assert count == 1 and linked["conversation_id"] == conv["id"]


async def test_an_overdue_task_turns_red_for_its_assignee_and_tells_the_supervisors(
        fx_live: Any, fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop, name="Late Larry")
    operator_id = await add_user(fx_shop, "operator")
    supervisor_id = await add_user(fx_shop, "supervisor")
    bystander_id = await add_user(fx_shop, "operator")
    assignee = await _connect(fx_live, fx_shop, operator_id)
    supervisor = await _connect(fx_live, fx_shop, supervisor_id)
    bystander = await _connect(fx_live, fx_shop, bystander_id)
    due = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    async with tenant_context(fx_shop.tenant):
        task = await services.create(None, contact_id=c["id"], title="Return the deposit", due_at=due,
                                     assignee_id=operator_id)
    await task_jobs.overdue({"tenant": fx_shop.slug, "task_id": task["id"], "due_at": task["due_at"].isoformat()})

    got = await assignee.until(lambda f: f.event == "task.overdue")
    assert len(toasts(got)) == 1 and 'data-overdue="true"' in got[-1].text  # one toast, and "My tasks" in red
    told = await supervisor.until(lambda f: f.event == "task.overdue")
    assert len(toasts(told)) == 1 and "Return the deposit" in told[-1].text and "Late Larry" in told[-1].text
    last = await emit(fx_shop, "contact.updated", {"contact_id": c["id"]})
    assert not toasts(await bystander.until(lambda f: f.event_id == last))
    for s in (assignee, supervisor, bystander):
        await s.close()


async def test_a_pages_passive_socket_gets_toasts_without_making_the_user_online(
        fx_live: Any, fx_client: Any, fx_shop: ShopFixture) -> None:
    from realtime import presence

    c = await make_contact(fx_client, fx_shop)
    operator_id = await add_user(fx_shop, "operator")
    token = (await login(fx_shop, operator_id))[0]
    passive = await ConsoleSocket.open(fx_live.ws_url, fx_shop.slug, token, ORIGIN, query="presence=0")
    await passive.ready()
    async with tenant_context(fx_shop.tenant):
        task = await services.create(None, contact_id=c["id"], title="Check the refund", assignee_id=operator_id,
                                     due_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    await task_jobs.remind({"tenant": fx_shop.slug, "task_id": task["id"], "due_at": task["due_at"].isoformat()})
    assert "Check the refund" in toasts(await passive.until(lambda f: f.event == "task.due"))[0].text
    assert operator_id not in await presence.team(fx_shop.tenant)  # a settings page open is not being online
    console = await _connect(fx_live, fx_shop, operator_id)
    assert (await presence.team(fx_shop.tenant))[operator_id].status != "offline"
    for s in (passive, console):
        await s.close()
