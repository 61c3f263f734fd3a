"""Tasks: the service contract automations call, the API (create, list, complete, reschedule, validation),
recurrence, the card and the console, the scheduled jobs, and another shop's ids -> 404."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from app.lib.db import current_uow, tenant_context
from tests.conftest import ShopFixture
from tests.integration.test_orders import make_contact


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
