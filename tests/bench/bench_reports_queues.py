"""Reports: a 90-day Queue service report over BENCH_QUEUE_VISITS (1,000,000) queue visits of one tenant (p50/p95 of
the report, which reads the rollups' `svc_*` metrics (exact: callbacks apart, longest wait to the second), beside a raw
`SELECT count(*)` over the same visits) and the wallboard's `service_today` over a day of them.

The visits are seeded with COPY over 90 days: 4 queues, 4 channels; 70 % answered, 15 % abandoned, 5 % callbacks,
10 % overflowed, moved or closed; waits of 0 to 15 minutes."""

from __future__ import annotations

import datetime as dt
import random
import secrets
import time

from tests.bench.bench_reports import time_90_day_report
from tests.bench.harness import BenchContext, percentiles

RUNS = 20
OUTCOMES = ["answered"] * 14 + ["abandoned"] * 3 + ["callback", "overflowed", "closed"]


async def main(ctx: BenchContext) -> None:
    from app import events_catalogue  # noqa: F401  (every domain declares its events, as the app does)
    from app.lib.db import current_uow, tenant_context
    from app.reports import queues, rollups
    from tenants import services as tenants

    visits = ctx.env_int("BENCH_QUEUE_VISITS", 1_000_000)
    shop = await tenants.signup("Queues shop", "rq_000", "owner@rq.example", "bench-password-" + secrets.token_hex(6),
                                owner_name="Owner")
    tenant = shop.tenant
    rng = random.Random(18)
    end = dt.datetime(2026, 11, 30, 22, 0, tzinfo=dt.UTC)
    start = end - dt.timedelta(days=90)
    span = int((end - start).total_seconds())

    ctx.section(f"seeding {visits:,} queue visits over 90 days with COPY")
    async with tenant_context(tenant):
        conn = current_uow().connection
        queue_ids = [await conn.fetchval("SELECT id FROM queue ORDER BY id LIMIT 1")]
        for key in ("sales", "returns", "billing"):
            queue_ids.append(await conn.fetchval(
                "INSERT INTO queue (key, name) VALUES ($1, $2) RETURNING id", key, key.title()))
    channels = ("call", "sms", "chat", "email")
    t0 = time.perf_counter()
    batch = 200_000
    for first in range(0, visits, batch):
        rows = []
        for i in range(first, min(visits, first + batch)):
            entered = start + dt.timedelta(seconds=rng.randrange(span - 3600))
            wait = rng.randrange(0, 900)
            outcome = OUTCOMES[i % len(OUTCOMES)]
            left = entered + dt.timedelta(seconds=wait)
            rows.append((i + 1, None, channels[i % 4], queue_ids[(i // 4) % 4], entered,
                         left if outcome == "answered" else None, None, left, outcome, wait, outcome == "callback"))
        async with tenant_context(tenant):
            await current_uow().connection.copy_records_to_table(
                "report_queue_visit", records=rows,
                columns=["conversation", "contact", "channel", "queue", "entered_at", "answered_at", "answered_by",
                         "left_at", "outcome", "wait_seconds", "callback"])
    ctx.log(f"{visits:,} visits copied in {time.perf_counter() - t0:.1f} s")
    async with tenant_context(tenant):
        await current_uow().connection.execute("ANALYZE report_queue_visit")
    t0 = time.perf_counter()
    async with tenant_context(tenant):
        await rollups.rebuild_all()
        await current_uow().connection.execute("ANALYZE report_rollup; ANALYZE report_rollup_day")
    ctx.log(f"rollups built from the visits in {time.perf_counter() - t0:.1f} s")

    ctx.section("90-day queue service report")
    await time_90_day_report(
        ctx, tenant, "queues report", queues.build, "offered", "visits counted, 4 queue rows",
        "SELECT count(*) FROM report_queue_visit WHERE entered_at >= $1 AND entered_at < $2", "visits")

    day_ms: list[float] = []
    for _ in range(RUNS):
        async with tenant_context(tenant):
            t0 = time.perf_counter()
            await queues.service_today()
            day_ms.append((time.perf_counter() - t0) * 1000)
    d = percentiles(day_ms, (50, 95))
    ctx.record("service_today (wallboard), p95", round(d[95], 1), "ms", note=f"p50 {d[50]:.1f} ms")
