"""Foundation: migrating N tenant schemas, tenant provisioning (signup), tenant-scoped GET /me under load.

Sizes (environment, for quick runs): BENCH_TENANTS (1000) schemas for `migrate`, BENCH_SIGNUPS (100) signups,
BENCH_CONCURRENCY (16) concurrent clients, BENCH_WARMUP (2) and BENCH_DURATION (10) seconds per load run,
BENCH_HTTP_TENANTS (20) tenants the load rotates over. Order: migrate first (so it covers exactly
BENCH_TENANTS schemas), then signups (with those schemas already in the catalog), then HTTP on the signed-up shops.
BENCH_RAW_SCHEMAS (20) schemas per raw DDL baseline (the recorded SQL over bare asyncpg, 1 and 4 connections).
BENCH_SURVEY_TENANTS (0: skipped) schemas for the no-op check alone: stand-ins holding only a `migration` table at
head (the full DDL for 10,000 schemas takes 10,000 x the raw DDL baseline; the no-op check reads only that table).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from tests.bench.harness import REPO, BenchContext, app_server, closed_loop, percentiles, wrk_available, wrk_load


@dataclass
class Shop:
    slug: str
    schema: str
    api_key: str


async def main(ctx: BenchContext) -> None:
    n_tenants = ctx.env_int("BENCH_TENANTS", 1000)
    n_signups = ctx.env_int("BENCH_SIGNUPS", 100)
    await bench_migrate(ctx, n_tenants)
    n_survey = ctx.env_int("BENCH_SURVEY_TENANTS", 0)
    if n_survey:
        await bench_survey(ctx, n_survey)
    shops = await bench_signup(ctx, n_signups) if n_signups else []
    await bench_me(ctx, shops)


# --------------------------------------------------------------------------------------------------------------
# 2. `switchboard migrate` over N tenant schemas


async def bench_migrate(ctx: BenchContext, n: int) -> None:
    from app.lib.db import quote_schema
    from tenants.provisioning import migrate_all

    ctx.section(f"switchboard migrate over {n:,} tenant schemas")
    slugs = [f"mig_{i:05d}" for i in range(n)]
    conn = await asyncpg.connect(ctx.dsn)
    try:
        t0 = time.perf_counter()
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO public.tenant (slug, schema_name, name, status, plan, created_at) "
                "VALUES ($1, $2, $3, 'active', 'trial', now())",
                [(s, f"t_{s}", f"Bench {s}") for s in slugs])
            await conn.execute(";".join(f"CREATE SCHEMA {quote_schema('t_' + s)}" for s in slugs))
        ctx.log(f"{n:,} empty schemas + registry rows created in {time.perf_counter() - t0:.1f} s (bulk SQL, not timed)")
    finally:
        await conn.close()

    # (a) every schema is empty: migrate_all runs all tenant migrations in each (one transaction per schema).
    t0 = time.perf_counter()
    report = await migrate_all()
    elapsed = time.perf_counter() - t0
    _check_report(ctx, report, expect_migrated=n)
    ctx.record("migrate_all: empty → head", elapsed, "s",
               f"{n:,} schemas, concurrency 4 (CLI default), {len(report.migrated):,} migrated, "
               f"{len(report.failed)} failed")
    ctx.record("migrate_all: empty → head rate", n / elapsed, "tenants/s")

    await _raw_ddl_baseline(ctx, n, elapsed)

    # (b) every schema at head: the no-op check.
    t0 = time.perf_counter()
    report = await migrate_all()
    elapsed = time.perf_counter() - t0
    _check_report(ctx, report, expect_up_to_date=n)
    ctx.record("migrate_all: no-op check", elapsed, "s", f"{len(report.up_to_date):,} already at head (one survey)")
    ctx.record("migrate_all: no-op check rate", n / elapsed, "tenants/s")
    await _per_schema_check_baseline(ctx, slugs, elapsed)

    # (c) the real command end to end (process start, imports, pool, progress bar). Normally a no-op here; if the
    # code on disk gained migrations since this process imported it, the CLI applies them and says so.
    t0 = time.perf_counter()
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "app.cli", "migrate"], cwd=REPO, env=os.environ.copy(),
        capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        ctx.log(f"switchboard migrate exited {proc.returncode}: {(proc.stdout + proc.stderr)[-2000:]}")
        ctx.record("`switchboard migrate` (CLI, wall)", f"exit {proc.returncode}", "", "see log above")
    else:
        last = (proc.stdout.strip().splitlines() or [""])[-1]
        ctx.record("`switchboard migrate` (CLI, wall)", elapsed, "s", f"incl. process start; says: {last}")


async def _raw_ddl_baseline(ctx: BenchContext, n: int, app_seconds: float) -> None:
    """The same DDL without the app: the SQL the app recorded for an empty schema, sent by bare asyncpg into fresh
    schemas (CREATE SCHEMA; SET LOCAL; the script; one transaction each), over 1 and over 4 connections."""
    from tenants import baseline, migrations

    plan = migrations.fresh_plan(migrations.tenant_apps())
    snapshot = baseline.load()  # what the app ran for each new schema when it fits this database (tenants/baseline.py)
    if snapshot is not None:
        script, plan = snapshot.script, ((snapshot.script, ()),)
    elif plan is None or any(args for _, args in plan):
        ctx.log("no recorded plan (or one with arguments): skipping the raw DDL baseline")
        return
    else:
        script = ";\n".join(query.strip().rstrip(";") for query, _ in plan)
    k = ctx.env_int("BENCH_RAW_SCHEMAS", 20)
    for connections in (1, 4):
        conns = [await asyncpg.connect(ctx.dsn) for _ in range(connections)]
        names = iter(f"t_raw{connections}_{i:04d}" for i in range(k))
        try:
            async def worker(conn: asyncpg.Connection, names: Any = names) -> None:
                for schema in names:
                    async with conn.transaction():
                        await conn.execute(f'CREATE SCHEMA "{schema}"; SET LOCAL search_path TO "{schema}"')
                        await conn.execute(script)

            t0 = time.perf_counter()
            await asyncio.gather(*(worker(c) for c in conns))
            per = (time.perf_counter() - t0) / k
        finally:
            for c in conns:
                await c.close()
        ctx.record(f"  raw DDL baseline, {connections} connection{'s' if connections > 1 else ''}", per * 1000,
                   "ms/schema", f"{k} schemas, {len(plan)} statements each; x {n:,} = {per * n:.0f} s; app/raw "
                   f"{app_seconds / (per * n):.2f}x")


async def _per_schema_check_baseline(ctx: BenchContext, slugs: list[str], survey_seconds: float) -> None:
    """What the no-op check cost before the survey: one transaction per schema reading its `migration` table."""
    from app.lib.db import TenantRef
    from tenants import services

    tenants = [TenantRef(id=0, slug=s, schema=f"t_{s}") for s in slugs]
    gate = asyncio.Semaphore(4)

    async def one(tenant: TenantRef) -> None:
        async with gate:
            await services.pending_for(tenant)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(t) for t in tenants))
    elapsed = time.perf_counter() - t0
    ctx.record("  baseline: a transaction per schema (pending_for, 4 at once)", elapsed, "s",
               f"{len(tenants):,} schemas; survey is {elapsed / survey_seconds:.1f}x faster")


async def bench_survey(ctx: BenchContext, n: int) -> None:
    from tenants import migrations
    from tenants.provisioning import migrate_all

    ctx.section(f"no-op check over {n:,} more schemas (stand-ins: only a `migration` table, at head)")
    apps = migrations.tenant_apps()
    rows = sorted(migrations.head(apps))
    slugs = [f"srv_{i:05d}" for i in range(n)]
    conn = await asyncpg.connect(ctx.dsn)
    try:
        t0 = time.perf_counter()
        await conn.executemany(
            "INSERT INTO public.tenant (slug, schema_name, name, status, plan, created_at) "
            "VALUES ($1, $2, $3, 'active', 'trial', now())", [(s, f"t_{s}", f"Bench {s}") for s in slugs])
        for i in range(0, n, 500):
            async with conn.transaction():
                for s in slugs[i:i + 500]:
                    await conn.execute(f'CREATE SCHEMA "t_{s}"; CREATE TABLE "t_{s}".migration (id serial PRIMARY KEY, '
                                       "name varchar(200) NOT NULL, app_name varchar(200) NOT NULL, "
                                       "ran_on timestamptz DEFAULT now())")
                    await conn.executemany(f'INSERT INTO "t_{s}".migration (app_name, name) VALUES ($1, $2)', rows)
        total = await conn.fetchval("SELECT count(*) FROM public.tenant")
        ctx.log(f"{n:,} stand-in schemas created in {time.perf_counter() - t0:.1f} s (not timed); "
                f"{total:,} tenants in the registry")
    finally:
        await conn.close()
    t0 = time.perf_counter()
    report = await migrate_all()
    elapsed = time.perf_counter() - t0
    _check_report(ctx, report, expect_up_to_date=total)
    ctx.record("migrate_all: no-op check, all tenants", elapsed, "s", f"{len(report.up_to_date):,} already at head")
    await _per_schema_check_baseline(ctx, [t.removeprefix("t_") for t in [f"t_{s}" for s in slugs]], elapsed)


def _check_report(ctx: BenchContext, report: object, *, expect_migrated: int = 0, expect_up_to_date: int = 0) -> None:
    failed = report.failed
    migrated = len(report.migrated)
    up_to_date = len(report.up_to_date)
    if failed:
        slug, err = next(iter(failed.items()))
        ctx.log(f"[red]{len(failed)} schemas failed; first {slug}: {err}[/red]")
    if migrated != expect_migrated or up_to_date != expect_up_to_date:
        ctx.log(f"[yellow]unexpected outcome: {migrated} migrated, {up_to_date} up to date "
                f"(expected {expect_migrated} / {expect_up_to_date})[/yellow]")


# --------------------------------------------------------------------------------------------------------------
# 1. Tenant provisioning time (signup)


async def bench_signup(ctx: BenchContext, n: int) -> list[Shop]:
    from tenants import services

    ctx.section(f"tenant provisioning: {n} signups via tenants.services.signup (one after another)")
    hash_seconds: list[float] = []
    original = services.hash_password

    async def timed_hash(password: str) -> str:  # same call, only timed: lets us report signup minus argon2id
        t = time.perf_counter()
        try:
            return await original(password)
        finally:
            hash_seconds.append(time.perf_counter() - t)

    totals: list[float] = []
    shops: list[Shop] = []
    services.hash_password = timed_hash  # type: ignore[assignment]
    try:
        for i in range(n):
            slug = f"bench_{i:04d}"
            t0 = time.perf_counter()
            result = await services.signup(f"Bench shop {i}", slug, f"owner@bench-{i}.example",
                                           "bench-password-" + secrets.token_hex(6), owner_name="Owner")
            totals.append(time.perf_counter() - t0)
            shops.append(Shop(slug, result.tenant.schema, result.api_key))
    finally:
        services.hash_password = original  # type: ignore[assignment]

    ms = [t * 1000 for t in totals]
    no_hash = [(t - h) * 1000 for t, h in zip(totals, hash_seconds, strict=True)]
    hashes = [h * 1000 for h in hash_seconds]
    p, q, r = percentiles(ms, (50, 95)), percentiles(no_hash, (50, 95)), percentiles(hashes, (50, 95))
    ctx.record("signup p50", p[50], "ms", f"{n} signups, sequential")
    ctx.record("signup p95", p[95], "ms")
    ctx.record("signup max", max(ms), "ms")
    ctx.record("  argon2id hash_password p50 / p95", f"{r[50]:.1f} / {r[95]:.1f}", "ms", "inside signup, timed")
    ctx.record("  signup excl. hashing p50", q[50], "ms", "schema + 6 migrations + seed, one transaction")
    ctx.record("  signup excl. hashing p95", q[95], "ms")
    ctx.record("  signup excl. hashing max", max(no_hash), "ms")
    return shops


# --------------------------------------------------------------------------------------------------------------
# 3. GET /t/{slug}/api/v1/me under load, beside the raw SQL it needs


ME_SQL = ('SELECT k.id, k.revoked_at, k.last_used_at, u.id, u.email, u.name, u.role, u.status '
          'FROM {schema}.api_key k JOIN {schema}.app_user u ON u.id = k."user" WHERE k.key_hash = $1')


async def bench_me(ctx: BenchContext, all_shops: list[Shop]) -> None:
    import httpx

    from app.lib.db import quote_schema
    from app.lib.security import token_hash

    concurrency = ctx.env_int("BENCH_CONCURRENCY", 16)
    warmup = float(ctx.env_int("BENCH_WARMUP", 2))
    duration = float(ctx.env_int("BENCH_DURATION", 10))
    shops = all_shops[: max(1, ctx.env_int("BENCH_HTTP_TENANTS", 20))]
    if not shops:
        ctx.log("no shops: skipping the HTTP benchmark")
        return
    window = f"{concurrency} concurrent, {duration:.0f} s after {warmup:.0f} s warm-up, {len(shops)} tenants in rotation"
    ctx.section(f"GET /t/{{slug}}/api/v1/me: {window}")
    targets = [(f"/t/{s.slug}/api/v1/me", s.api_key) for s in shops]

    async with app_server() as server:
        ctx.log(f"uvicorn (1 worker, uvloop/httptools when installed, DB_POOL_MAX "
                f"{os.environ.get('DB_POOL_MAX', '20')}) at {server.base_url}")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0,
                                     limits=httpx.Limits(max_connections=concurrency,
                                                         max_keepalive_connections=concurrency)) as client:
            # Correctness first: each key answers for its own tenant.
            for path, key in targets:
                resp = await client.get(path, headers={"Authorization": f"Bearer {key}"})
                if resp.status_code != 200 or resp.json().get("tenant") != path.split("/")[2]:
                    raise RuntimeError(f"GET {path} answered {resp.status_code}: {resp.text[:300]}")

            rotation = itertools.cycle(targets)

            async def get_me(_: int) -> bool:
                path, key = next(rotation)
                resp = await client.get(path, headers={"Authorization": f"Bearer {key}"})
                return resp.status_code == 200

            res = await closed_loop("httpx", get_me, concurrency=concurrency, warmup=warmup, duration=duration)
        _record_load(ctx, "HTTP /me (httpx client)", res.rate, res.pct(50), res.pct(99), res.errors,
                     f"load tool: httpx.AsyncClient in the bench process, {window}" +
                     (f"; first error: {res.first_error}" if res.first_error else ""))

        if wrk_available():
            w = await wrk_load(server.base_url, targets, connections=concurrency, duration=duration, warmup=warmup)
            errors = w.non_2xx + w.socket_error_count
            _record_load(ctx, "HTTP /me (wrk -t1)", w.rate, w.p50_ms, w.p99_ms, errors,
                         f"load tool: wrk, 1 thread, {concurrency} connections, {w.requests:,} requests"
                         + (f"; {w.socket_errors}" if w.socket_errors else ""))
        else:
            ctx.log("wrk not installed (apt-get install -y wrk): HTTP figure from httpx only")

    # The same row straight from asyncpg, at the same concurrency and for the same time.
    pool = await asyncpg.create_pool(ctx.dsn, min_size=concurrency, max_size=concurrency)
    try:
        queries = [(ME_SQL.format(schema=quote_schema(s.schema)), token_hash(s.api_key), s.slug, s.schema)
                   for s in shops]
        rotation_q = itertools.cycle(queries)

        async def one_query(_: int) -> bool:
            sql, key_hash, _slug, _schema = next(rotation_q)
            async with pool.acquire() as conn:
                return await conn.fetchrow(sql, key_hash) is not None

        res = await closed_loop("asyncpg", one_query, concurrency=concurrency, warmup=warmup, duration=duration)
        _record_load(ctx, "raw asyncpg: key ⨝ user query", res.rate, res.pct(50), res.pct(99), res.errors,
                     f"one schema-qualified SELECT per call, pool of {concurrency}")

        unqualified = ME_SQL.format(schema="").replace(" .", " ")

        async def request_round_trips(_: int) -> bool:
            # What the request does in SQL: tenant lookup in public, then BEGIN; SET LOCAL search_path;
            # key ⨝ user; COMMIT (the app also acquires its pool twice and goes through Piccolo).
            _sql, key_hash, slug, schema = next(rotation_q)
            async with pool.acquire() as conn:
                tenant = await conn.fetchrow(
                    "SELECT id, slug, schema_name, name FROM public.tenant WHERE slug = $1 AND status = 'active'", slug)
                if tenant is None:
                    return False
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL search_path TO {quote_schema(schema)}")
                    return await conn.fetchrow(unqualified, key_hash) is not None

        res = await closed_loop("asyncpg", request_round_trips, concurrency=concurrency, warmup=warmup,
                                duration=duration)
        _record_load(ctx, "raw asyncpg: request's SQL round trips", res.rate, res.pct(50), res.pct(99), res.errors,
                     "tenant lookup + BEGIN + SET LOCAL + key ⨝ user + COMMIT")
    finally:
        await pool.close()


def _record_load(ctx: BenchContext, label: str, rate: float, p50: float, p99: float, errors: int, note: str) -> None:
    ctx.record(f"{label}", rate, "req/s", note, errors=errors)
    ctx.record(f"  {label} latency p50 / p99", f"{p50:.2f} / {p99:.2f}", "ms", f"{errors} errors", errors=errors)
