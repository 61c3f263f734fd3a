"""Reminders fired/s: tasks whose reminder time has come, fired by in-process job workers (lock the task, mark it,
emit `task.due`, queue and send the email to a local SMTP sink), beside a raw baseline of the job queue alone
(the same number of no-op jobs through the same workers).

Sizes: BENCH_TASKS_REMINDERS (2000) tasks, BENCH_TASKS_WORKERS (2) workers."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
from typing import Any

from tests.bench.harness import BenchContext, free_port

LIMIT_SECONDS = 600


SINK = """
import asyncio, sys
from aiosmtpd.controller import Controller
class Sink:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        Sink.count += 1
        with open(sys.argv[2], "w") as f:
            f.write(str(Sink.count))
        return "250 OK"
Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1])).start()
print("ready", flush=True)
sys.stdin.read()
"""


class _Sink:
    """An SMTP server that accepts and counts, in its own process (in this one it would take the workers' CPU)."""

    def __init__(self, port: int) -> None:
        import subprocess
        import sys
        import tempfile

        self.file = tempfile.NamedTemporaryFile(prefix="sb-bench-sink-", delete=False)
        self.proc = subprocess.Popen([sys.executable, "-c", SINK, str(port), self.file.name],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None and self.proc.stdout.readline().startswith(b"ready")

    @property
    def count(self) -> int:
        with open(self.file.name) as f:
            raw = f.read().strip()
        return int(raw) if raw.isdigit() else 0

    def stop(self) -> None:
        import os

        self.proc.kill()
        self.proc.wait()
        os.unlink(self.file.name)


async def _drain(ctx: BenchContext, workers: int, done: Any) -> float:
    from app.lib.jobs import Worker

    pool = [Worker(ctx.dsn, poll_seconds=0.2) for _ in range(workers)]
    started = time.perf_counter()
    for worker in pool:
        await worker.start()
    try:
        while not await done():
            if time.perf_counter() - started > LIMIT_SECONDS:
                raise RuntimeError("not drained in 10 minutes")
            await asyncio.sleep(0.05)
        return time.perf_counter() - started
    finally:
        for worker in pool:
            await worker.stop()


async def main(ctx: BenchContext) -> None:
    import os

    from app import events_catalogue  # noqa: F401  (every domain declares its events, as the app does)
    from app import jobs as _registry  # noqa: F401  (hands the job registry to the Worker, as app.cli does)
    from app.lib import jobs
    from app.lib.db import current_uow, tenant_context
    from app.piccolo_conf import DB
    from app.settings import get_settings
    from app.tasks import services
    from tenants import services as tenants

    count = ctx.env_int("BENCH_TASKS_REMINDERS", 2000)
    workers = ctx.env_int("BENCH_TASKS_WORKERS", 2)
    port = free_port()
    sink = _Sink(port)
    os.environ["SMTP_PORT"] = str(port)
    get_settings.cache_clear()
    try:
        shop = await tenants.signup("Tasks shop", "tk_000", "owner@tk.example", "bench-password-" + secrets.token_hex(6),
                                    owner_name="Owner")
        due = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        ctx.section(f"reminders fired/s: {count:,} reminders due now, {workers} in-process workers")
        t0 = time.perf_counter()
        async with tenant_context(shop.tenant):
            rows = await current_uow().connection.fetch(
                "INSERT INTO contact (name) VALUES ('Bench contact') RETURNING id")
        contact_id = rows[0]["id"]
        for start in range(0, count, 500):
            async with tenant_context(shop.tenant):
                for i in range(start, min(count, start + 500)):
                    # Reminded 61 minutes before a due time an hour away: the reminder is due at once.
                    await services.create(None, contact_id=contact_id, title=f"Reminder {i}", due_at=due,
                                          assignee_id=shop.user_id, remind_before=61)
        ctx.log(f"{count:,} tasks created in {time.perf_counter() - t0:.1f} s (with their jobs and events)")

        marked: list[float] = []
        start = time.perf_counter()

        async def reminded() -> bool:
            async with tenant_context(shop.tenant):
                fired = await current_uow().connection.fetchval(
                    "SELECT count(*) FROM task WHERE reminded_at IS NOT NULL")
            if fired >= count and not marked:
                marked.append(time.perf_counter() - start)
            return bool(fired >= count and sink.count >= count)

        elapsed = await _drain(ctx, workers, reminded)
        async with tenant_context(shop.tenant):
            events = await current_uow().connection.fetchval("SELECT count(*) FROM event_log WHERE name = 'task.due'")
        ctx.record("reminders fired (event + email sent)", count / elapsed, "reminders/s",
                   note=f"{count:,} reminders, {events:,} task.due events, {sink.count:,} emails; {workers} workers",
                   lost=max(0, count - int(events)), errors=max(0, int(events) - count))
        ctx.record("  of which the reminders alone (task marked, task.due emitted, email queued)", count / marked[0],
                   "reminders/s", note="the emails, one SMTP session each, are sent behind them")
        async with DB.pool.acquire() as conn:  # the overdue checks queued for later are not part of this
            await conn.execute(f"DELETE FROM {jobs.QUEUE_TABLE}")

        ran = 0

        async def noop(payload: dict[str, Any]) -> None:
            nonlocal ran
            ran += 1

        jobs.register({"bench.noop": jobs.JobSpec(noop)})
        for start in range(0, count, 500):
            async with tenant_context(shop.tenant):
                for i in range(start, min(count, start + 500)):
                    await jobs.enqueue("bench.noop", {"i": i}, dedupe_key=f"bench:{i}")

        async def drained() -> bool:
            return ran >= count

        raw = await _drain(ctx, workers, drained)
        ctx.record("  raw: the job queue alone (no-op jobs, same workers)", count / raw, "jobs/s",
                   note=f"reminders fired at {count / elapsed / (count / raw):.2f}x this (each reminder is two jobs: "
                        "the reminder and its email)")
    finally:
        sink.stop()
        os.environ.pop("SMTP_PORT", None)
        get_settings.cache_clear()
