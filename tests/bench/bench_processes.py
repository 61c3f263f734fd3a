"""Processes and a pooler: tenant-scoped GET /me under wrk from `switchboard run` with 1 and 2 web processes, straight
to PostgreSQL and through PgBouncer (transaction mode), each as a ratio of the 1-process direct figure of this run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from tests.bench.harness import (
    REPO,
    BenchContext,
    WrkResult,
    free_port,
    stop_child,
    wait_healthy,
    wrk_available,
    wrk_load,
)
from tests.pgbouncer import PgBouncer, missing_reason

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextlib.asynccontextmanager
async def switchboard_run(ctx: BenchContext, workers: int, env: dict[str, str]) -> AsyncIterator[str]:
    """`switchboard run --workers N --no-demo --no-mail-in` on a free port; its base URL once /health answers."""

    port = free_port()
    full = {**os.environ, "PORT": str(port), "BASE_URL": f"http://127.0.0.1:{port}", "EMBEDDED_WORKER": "false",
            "MAIL_CATCHER": "false", "REDIS_URL": REDIS_URL, "REDIS_PREFIX": f"sb-bench-{secrets.token_hex(4)}",
            "TWILIO_API_BASE": "https://api.twilio.invalid", **env}
    log = tempfile.NamedTemporaryFile(prefix="sb-bench-run-", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "run", "--no-demo", "--no-mail-in", "--workers",
                             str(workers)], cwd=REPO, env=full, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(base, proc, lambda: Path(log.name).read_text()[-3000:], 180, "run")
        await asyncio.sleep(3 if workers > 1 else 0)  # the other processes finish their start-up too
        yield base
    finally:
        await stop_child(proc, log, 30)


async def main(ctx: BenchContext) -> None:
    from tenants import services

    if wrk_available() is None:
        ctx.log("wrk not installed (apt-get install -y wrk): no figures")
        return
    reason = missing_reason()
    concurrency = ctx.env_int("BENCH_CONCURRENCY", 16)
    warmup = float(ctx.env_int("BENCH_WARMUP", 2))
    duration = float(ctx.env_int("BENCH_DURATION", 10))
    n_shops = ctx.env_int("BENCH_HTTP_TENANTS", 5)
    targets = []
    for i in range(n_shops):
        slug = f"proc_{i:03d}"
        result = await services.signup(f"Bench shop {i}", slug, f"owner@proc-{i}.example",
                                       "bench-password-" + secrets.token_hex(6), owner_name="Owner")
        targets.append((f"/t/{slug}/api/v1/me", result.api_key))
    window = f"{concurrency} connections, {duration:.0f} s after {warmup:.0f} s warm-up, {n_shops} tenants in rotation"
    ctx.section(f"GET /t/{{slug}}/api/v1/me by wrk (1 thread): {window}")
    ctx.log("load from a separate process (wrk) on the same 2 cores as the servers, PostgreSQL and other work: "
            "compare the ratios, not the absolute figures")

    bouncer = None if reason else PgBouncer(ctx.dsn, pool_size=20).start()
    if bouncer is None:
        ctx.log(f"PgBouncer figures skipped: {reason}")
    layouts = [("1 process, direct", 1, {})]
    if bouncer is not None:
        layouts.append(("1 process, PgBouncer", 1, {"DATABASE_URL": bouncer.url(ctx.dsn),
                                                     "DATABASE_DIRECT_URL": ctx.dsn, "DATABASE_POOLER": "pgbouncer"}))
    layouts.append(("2 processes, direct", 2, {}))
    if bouncer is not None:
        layouts.append(("2 processes, PgBouncer", 2, {"DATABASE_URL": bouncer.url(ctx.dsn),
                                                       "DATABASE_DIRECT_URL": ctx.dsn,
                                                       "DATABASE_POOLER": "pgbouncer"}))
    rounds = max(1, ctx.env_int("BENCH_ROUNDS", 2))
    ctx.log(f"{rounds} rounds, the layouts in forward then reverse order (A B C D, D C B A), so drift in the "
            "machine's other work falls on every layout alike; each figure is the mean of its rounds")
    results: dict[str, list[WrkResult]] = {label: [] for label, _w, _e in layouts}
    try:
        for r in range(rounds):
            for label, workers, env in (layouts if r % 2 == 0 else layouts[::-1]):
                async with switchboard_run(ctx, workers, {"DATABASE_URL": ctx.dsn, **env}) as base:
                    results[label].append(await wrk_load(base, targets, connections=concurrency, duration=duration,
                                                         warmup=warmup))
    finally:
        if bouncer is not None:
            bouncer.stop()
    baseline = statistics.mean(w.rate for w in results[layouts[0][0]])
    for label, runs in results.items():
        rate = statistics.mean(w.rate for w in runs)
        errors = sum(w.non_2xx + w.socket_error_count for w in runs)
        ctx.record(f"HTTP /me, {label}", rate, "req/s",
                   f"{rate / baseline:.2f}x the 1-process direct figure of this run; rounds "
                   + ", ".join(f"{w.rate:,.0f}" for w in runs) + f"; {sum(w.requests for w in runs):,} requests",
                   errors=errors)
        ctx.record(f"  {label} latency p50 / p99", f"{statistics.median(w.p50_ms for w in runs):.2f} / "
                   f"{statistics.median(w.p99_ms for w in runs):.2f}", "ms", "median of the rounds", errors=errors)
