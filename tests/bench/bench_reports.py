"""Reports: a 90-day Agent performance report over BENCH_REPORTS_LEGS (1,000,000) interaction legs of one tenant
(p50/p95 of the report built from the 15-minute rollups, beside a raw `SELECT count(*)` over the same legs); the
rollups' build rate; facts written per second by the reports listener (the handler the worker runs, fed the events
of BENCH_REPORTS_CONVERSATIONS (500) conversations; beside it, the same projections without rollups); the rebuild rate (`switchboard reports rebuild`'s code).

The legs are seeded with COPY: 20 agents, each working one queue and one channel (agents specialise), over 90 days;
half the legs have a conversation fact with a first response and a resolution."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import secrets
import time
from typing import Any

from tests.bench.harness import BenchContext, percentiles

AGENTS = 20
RUNS = 20


async def main(ctx: BenchContext) -> None:
    from app import events_catalogue  # noqa: F401  (every domain declares its events, as the app does)
    from app.lib.db import current_uow, tenant_context
    from app.reports import agents as agents_report
    from app.reports import facts, listener, rollups, services
    from realtime.events import Event
    from tenants import services as tenants

    legs = ctx.env_int("BENCH_REPORTS_LEGS", 1_000_000)
    conversations = ctx.env_int("BENCH_REPORTS_CONVERSATIONS", 500)
    shop = await tenants.signup("Reports shop", "rp_000", "owner@rp.example", "bench-password-" + secrets.token_hex(6),
                                owner_name="Owner")
    tenant = shop.tenant
    rng = random.Random(18)
    end = dt.datetime(2026, 11, 30, 22, 0, tzinfo=dt.UTC)
    start = end - dt.timedelta(days=90)
    span = int((end - start).total_seconds())

    ctx.section(f"seeding {legs:,} legs over 90 days with COPY")
    async with tenant_context(tenant):
        conn = current_uow().connection
        agent_ids = [r["id"] for r in await conn.fetch(
            "INSERT INTO app_user (email, name, role) SELECT 'a' || g || '@rp.example', 'Agent ' || g, 'operator' "
            "FROM generate_series(1, $1) g RETURNING id", AGENTS)]
        queue_ids = [r["id"] for r in await conn.fetch("SELECT id FROM queue ORDER BY id")]
    channels = ("call", "sms", "chat", "email")
    t0 = time.perf_counter()
    batch = 200_000
    for first in range(0, legs, batch):
        leg_rows, conv_rows = [], []
        for i in range(first, min(legs, first + batch)):
            n = i % AGENTS
            agent, queue, channel = agent_ids[n], queue_ids[n % len(queue_ids)], channels[n % len(channels)]
            began = start + dt.timedelta(seconds=rng.randrange(span - 3600))
            talk, hold, wrap = rng.randrange(30, 900), rng.randrange(0, 60), rng.randrange(0, 120)
            ended = began + dt.timedelta(seconds=talk + hold + wrap)
            leg_rows.append((i + 1, agent, channel, queue, agent, began, ended, talk, hold, wrap, i % 17 == 0, ""))
            if i % 2 == 0:
                created = began - dt.timedelta(seconds=rng.randrange(5, 120))
                conv_rows.append((i + 1, channel, queue, agent, agent, created, began,
                                  int((began - created).total_seconds()), int((began - created).total_seconds()),
                                  ended, int((ended - created).total_seconds()),
                                  int((ended - created).total_seconds()), 0))
        async with tenant_context(tenant):
            conn = current_uow().connection
            await conn.copy_records_to_table(
                "report_agent_leg", records=[(r[0], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11])
                                             for r in leg_rows],
                columns=["conversation", "channel", "queue", "agent", "started_at", "ended_at", "talk_seconds",
                         "hold_seconds", "wrap_seconds", "transferred_out", "disposition"])
            await conn.copy_records_to_table(
                "report_conversation", records=conv_rows,
                columns=["conversation", "channel", "queue", "agent", "responder", "created_at", "first_response_at",
                         "first_response_seconds", "first_response_bh_seconds", "resolved_at", "resolution_seconds",
                         "resolution_bh_seconds", "transfers"])
    seeded = time.perf_counter() - t0
    ctx.log(f"{legs:,} legs and {legs // 2:,} conversation facts copied in {seeded:.1f} s")
    async with tenant_context(tenant):
        await current_uow().connection.execute("ANALYZE report_agent_leg; ANALYZE report_conversation")
    t0 = time.perf_counter()
    async with tenant_context(tenant):
        buckets = await rollups.rebuild_all()
    took = time.perf_counter() - t0
    async with tenant_context(tenant):
        conn = current_uow().connection
        await conn.execute("ANALYZE report_rollup")
        rollup_rows = await conn.fetchval("SELECT count(*) FROM report_rollup")
    ctx.record("rollups built from the facts", legs / took, "legs/s",
               note=f"{buckets:,} buckets, {rollup_rows:,} rollup rows in {took:.1f} s (the rebuild's one pass)")

    ctx.section("90-day agents report")
    await time_90_day_report(
        ctx, tenant, "agents report", agents_report.build, "handled", f"legs counted, {AGENTS} agent rows",
        "SELECT count(*) FROM report_agent_leg WHERE ended_at >= $1 AND ended_at < $2", "legs")

    ctx.section(f"facts written by the listener: {conversations} conversations")
    ids = itertools.count(10_000_000)
    async with tenant_context(tenant):
        conn = current_uow().connection
        queue = queue_ids[0]
        conv_ids = [r["id"] for r in await conn.fetch(
            "INSERT INTO conversation (channel, queue, status, created_at, taken_at, closed_at, assigned_to, "
            "wrapup_code) SELECT 'sms', $1, 'closed', $2::timestamptz + g * interval '1 minute', "
            "$2::timestamptz + g * interval '1 minute' + interval '20 seconds', "
            "$2::timestamptz + g * interval '1 minute' + interval '5 minutes', "
            "$3, 'info' FROM generate_series(1, $4) g RETURNING id", queue, end - dt.timedelta(days=1), agent_ids[0],
            conversations)]
    events = 0
    t0 = time.perf_counter()
    for cid in conv_ids:
        async with tenant_context(tenant):
            row = await facts.conversation(cid)
            assert row is not None
            for name, at, extra in (("queue.item_added", row["created_at"], {}),
                                    ("queue.item_taken", row["taken_at"], {"user_id": agent_ids[0]}),
                                    ("queue.item_removed", row["closed_at"], {})):
                await listener.on_event(Event(id=next(ids), name=name, tenant=tenant.slug, at=at,
                                              data={"conversation_id": cid, "queue_id": queue, "contact_id": 0,
                                                    **extra}))
                events += 1
    took = time.perf_counter() - t0
    async with tenant_context(tenant):
        written = await current_uow().connection.fetchval(
            "SELECT count(*) FROM report_agent_leg WHERE conversation = ANY($1::int[])", conv_ids)
    ctx.record("listener: events handled", events / took, "events/s",
               note=f"{conversations} conversations x 3 events, each projecting the conversation's facts and "
                    "adding their rollup deltas", lost=max(0, conversations - int(written)))
    t0 = time.perf_counter()
    for cid in conv_ids:  # the same projections without rollups: what the facts alone cost
        async with tenant_context(tenant):
            await facts.project(cid, refresh=False)
    took = time.perf_counter() - t0
    ctx.record("  raw: facts alone, no rollups", len(conv_ids) / took, "projections/s",
               note="each conversation projected once more with refresh=False")

    ctx.section("rebuild")
    async with tenant_context(tenant):  # the seeded legs have no conversations behind them: keep the real ones
        for table in ("report_agent_leg", "report_conversation", "report_rollup"):
            await current_uow().connection.execute(f"DELETE FROM {table}")
    t0 = time.perf_counter()
    result = await services.rebuild(tenant)
    took = time.perf_counter() - t0
    ctx.record("rebuild", result.conversations / took, "conversations/s",
               note=f"{result.conversations} conversations, {result.buckets} buckets in {took:.2f} s")


async def time_90_day_report(ctx: BenchContext, tenant: Any, name: str, build: Any, total: str, what: str,
                             raw_sql: str, rows: str) -> None:
    """A 90-day report's p50/p95 over RUNS builds beside a raw count(*) over the same fact rows; an error when the
    report's total is not that count."""
    from app.lib.db import current_uow, tenant_context  # deferred import: as in main(), after the bench's settings
    from app.reports import kit

    period = kit.period("2026-09-02", "2026-11-30", "UTC")
    report_ms: list[float] = []
    raw_ms: list[float] = []
    shown = counted = 0
    for _ in range(RUNS):
        async with tenant_context(tenant):
            t0 = time.perf_counter()
            report = await build(period, {})
            report_ms.append((time.perf_counter() - t0) * 1000)
            shown = int(report.totals[total])
            t0 = time.perf_counter()
            counted = int(await current_uow().connection.fetchval(raw_sql, period.start, period.end))
            raw_ms.append((time.perf_counter() - t0) * 1000)
    p = percentiles(report_ms, (50, 95))
    r = percentiles(raw_ms, (50, 95))
    ctx.record(f"{name}, 90 days (p95)", round(p[95], 1), "ms",
               note=f"p50 {p[50]:.1f} ms; target <= 300 ms; {shown:,} {what}", errors=0 if shown == counted else 1)
    ctx.record(f"  raw: SELECT count(*) over the same {rows} (p95)", round(r[95], 1), "ms", note=f"p50 {r[50]:.1f} ms")
