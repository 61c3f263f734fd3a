"""The scheduler you can trust, across processes: two `switchboard worker` processes fire 1,000 reminders due in
the same minute exactly once each (counted as `task.due` events and as emails received), and after five minutes with
no worker the late reminders (and duplicates of their jobs) fire once each when the workers come back."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.header
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.lib.db import current_uow, tenant_context
from app.lib.jobs import QUEUE_TABLE
from app.piccolo_conf import DB
from app.tasks import services
from tests.conftest import TEST_DSN, ShopFixture
from tests.integration.test_orders import make_contact
from tests.integration.test_processes import WorkerProcess

pytestmark = pytest.mark.xdist_group("realtime")

ENV = {"DATABASE_URL": TEST_DSN, "EMBEDDED_WORKER": "false", "MAIL_CATCHER": "false", "BASE_URL":
       "http://testserver.local", "DB_POOL_MIN": "1", "DB_POOL_MAX": "6"}


async def _workers(count: int = 2) -> list[WorkerProcess]:
    workers = [WorkerProcess(ENV, concurrency=4) for _ in range(count)]
    try:
        await asyncio.gather(*(w.wait_ready(60) for w in workers))
    except BaseException:
        for w in workers:
            w.stop()
        raise
    return workers


@pytest.fixture
async def fx_cleanup(fx_shop: ShopFixture) -> AsyncIterator[ShopFixture]:
    """The test's jobs still queued for later (overdue checks) leave the queue with it."""
    yield fx_shop
    async with DB.pool.acquire() as conn:
        await conn.execute(f"DELETE FROM {QUEUE_TABLE} WHERE convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1",
                           fx_shop.slug)


async def _make_tasks(shop: ShopFixture, contact_id: int, count: int, due: dt.datetime, remind_before: int,
                      prefix: str) -> list[int]:
    ids: list[int] = []
    for start in range(0, count, 250):
        async with tenant_context(shop.tenant):
            for i in range(start, min(count, start + 250)):
                task = await services.create(None, contact_id=contact_id, title=f"{prefix} #{i}", due_at=due,
                                             assignee_id=shop.user_id, remind_before=remind_before)
                ids.append(task["id"])
    return ids


async def _until(check: Any, wait: float, workers: list[WorkerProcess]) -> None:
    deadline = time.monotonic() + wait
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("not done in time:\n" + "\n---\n".join(w.output() for w in workers))
        for w in workers:
            assert w.proc.poll() is None, w.output()
        await asyncio.sleep(0.25)


async def _fired(shop: ShopFixture) -> list[int]:
    async with tenant_context(shop.tenant):
        rows = await current_uow().connection.fetch(
            "SELECT (data::jsonb ->> 'task_id')::int AS task_id FROM event_log WHERE name = 'task.due'")
    return [r["task_id"] for r in rows]


async def _reminded(shop: ShopFixture) -> int:
    async with tenant_context(shop.tenant):
        return int(await current_uow().connection.fetchval("SELECT count(*) FROM task WHERE reminded_at IS NOT NULL"))


async def _jobs_left(shop: ShopFixture, *entrypoints: str) -> int:
    async with DB.pool.acquire() as conn:
        return int(await conn.fetchval(
            f"SELECT count(*) FROM {QUEUE_TABLE} WHERE convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1 "
            "AND entrypoint = ANY($2) AND status IN ('queued', 'picked')", shop.slug, list(entrypoints)))


def _subjects(inbox: Any, shop: ShopFixture) -> list[str]:
    """The subjects of the mails to the shop's owner (the workers run every shop's jobs: others' may come too)."""
    return [str(email.header.make_header(email.header.decode_header(m["Subject"]))) for m in inbox.messages
            if m["To"] == shop.email]


async def test_two_workers_fire_a_thousand_reminders_due_in_one_minute_exactly_once(
        fx_client: Any, fx_cleanup: ShopFixture, fx_inbox: Any) -> None:
    shop = fx_cleanup
    c = await make_contact(fx_client, shop)
    minute = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    # Reminders at `minute` (already begun): due ten minutes later, reminded ten minutes before.
    ids = await _make_tasks(shop, c["id"], 1000, minute + dt.timedelta(minutes=10), 10, "Same minute")
    workers = await _workers(2)
    try:
        async def all_sent() -> bool:
            return len(_subjects(fx_inbox, shop)) >= 1000 and await _reminded(shop) == 1000 \
                and await _jobs_left(shop, services.REMIND_JOB, services.EMAIL_JOB) == 0

        await _until(all_sent, 300, workers)
    finally:
        for w in workers:
            w.stop()
    fired = await _fired(shop)
    assert len(fired) == 1000 and sorted(fired) == sorted(ids)  # one event per task, none twice
    subjects = _subjects(fx_inbox, shop)
    assert len(subjects) == 1000 and len(set(subjects)) == 1000  # one email per task


async def test_after_five_minutes_without_workers_late_reminders_fire_once_each(
        fx_client: Any, fx_cleanup: ShopFixture, fx_inbox: Any) -> None:
    shop = fx_cleanup
    c = await make_contact(fx_client, shop)
    ids = await _make_tasks(shop, c["id"], 200, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1), 15, "Late")
    # No worker runs; the clock passes the reminders' time by five minutes. A retry after a crash, or a second
    # enqueue, would leave a duplicate of a job behind: add one for every reminder, without its dedupe key.
    async with DB.pool.acquire() as conn:
        moved = await conn.execute(
            f"UPDATE {QUEUE_TABLE} SET execute_after = now() - interval '5 minutes' "
            "WHERE convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1 AND entrypoint = $2", shop.slug,
            services.REMIND_JOB)
        assert moved == "UPDATE 200"
        await conn.execute(
            f"INSERT INTO {QUEUE_TABLE} (priority, entrypoint, payload, execute_after, status) "
            f"SELECT priority, entrypoint, payload, execute_after, 'queued' FROM {QUEUE_TABLE} "
            "WHERE convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1 AND entrypoint = $2", shop.slug,
            services.REMIND_JOB)
    assert await _jobs_left(shop, services.REMIND_JOB) == 400
    assert await _fired(shop) == []
    workers = await _workers(2)
    try:
        async def caught_up() -> bool:
            return await _jobs_left(shop, services.REMIND_JOB, services.EMAIL_JOB) == 0 \
                and len(_subjects(fx_inbox, shop)) >= 200

        await _until(caught_up, 180, workers)
    finally:
        for w in workers:
            w.stop()
    fired = await _fired(shop)
    assert sorted(fired) == sorted(ids)
    subjects = _subjects(fx_inbox, shop)
    assert len(subjects) == 200 and len(set(subjects)) == 200
