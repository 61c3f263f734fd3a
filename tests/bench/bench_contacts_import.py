"""Contact CSV import: rows/s of a 100k-row 1C-style file through the real job queue; re-import; export.

A Windows-1251, semicolon-separated file as 1C exports it (Russian names from Faker's ru_RU lists, phones written
`8 (9XX) XXX-XX-XX`, birth dates `DD.MM.YYYY`, quoted companies with separators inside), with 2% invalid phones,
1% invalid emails and 3% rows repeating an earlier row's phone (they update that contact instead of creating one).

Measured through the code the app runs: `imports.upload` (decode, sniff, count, store), `imports.start` (enqueue
in the same transaction), then `app.lib.jobs.Worker` runs `contacts.run_import`, batch after batch, each in its own
`tenant_context`, every row through `services.create` / `services.update` (validation, identities, timeline,
events). The clock runs from the start's commit to the import's `done`. Then the same file again (every good row
matches: nothing written), and the CSV export of all contacts (`export.csv_chunks`, as the endpoint streams it).

Beside it, the raw baseline of the same run: the same rows, split by the same CSV reader, COPY'd with asyncpg's
`copy_records_to_table` into a plain table in batches of the job's size (no normalising, no matching, no
timeline): the import's rows/s is printed as a ratio of it. Peak RSS is the process's high-water mark over the
import job alone (reset with /proc/self/clear_refs before the start), against its RSS before; the upload is handed
over in 64 KiB chunks as the web handler does, its own RSS growth printed. CPU per row is split between the app
process, its worker processes (reaped children) and the PostgreSQL backends of the bench database (/proc), as the
wall figure moves with whatever else runs on the machine.

Sizes (environment): BENCH_IMPORT_ROWS (100000), BENCH_IMPORT_BIG=1 for the 1M-row run (the upload limit is raised
to fit);
BENCH_IMPORT_AGAIN=0 leaves out the re-import (halves a 1M-row run).
Standalone: `.venv/bin/python -m tests.bench.bench_contacts_import`.
"""

# ruff: noqa: RUF001  (the 1C-style test data is Cyrillic on purpose)
from __future__ import annotations

import asyncio
import os
import random
import resource
import secrets
import sys
import time
from typing import Any

from tests.bench.harness import BenchContext

SEED = 20261123
HEADER = ["ФИО", "Телефон", "E-mail", "Компания", "Теги", "Дата рождения", "Адрес"]
TAGS = ("vip", "опт", "розница", "партнёр", "новый", "")


def make_csv(rows: int, seed: int = SEED) -> tuple[bytes, dict[str, int]]:
    """The file and how many rows of each kind it holds."""
    from faker.providers.address.ru_RU import Provider as Address
    from faker.providers.company.ru_RU import Provider as Company
    from faker.providers.person.ru_RU import Provider as Person

    rnd = random.Random(seed)
    firsts, lasts, middles = Person.first_names_male, Person.last_names_male, Person.middle_names_male
    cities, streets = Address.city_names, Address.street_titles
    prefixes = Company.company_prefixes
    lines = [";".join(HEADER)]
    kinds = {"good": 0, "bad_phone": 0, "bad_email": 0, "repeat": 0}
    phones: list[str] = []
    for i in range(rows):
        roll = rnd.random()
        name = f"{rnd.choice(lasts)} {rnd.choice(firsts)} {rnd.choice(middles)}"
        number = f"9{(i * 7_919 + 1_000_003) % 1_000_000_000:09d}"
        if number.startswith("930"):  # a range phonenumbers does not know as mobile: it would be refused
            number = "91" + number[2:]
        phone = f"8 ({number[:3]}) {number[3:6]}-{number[6:8]}-{number[8:]}"
        email = f"client{i}@example.ru"
        if roll < 0.02:
            phone, kinds["bad_phone"] = "12-34", kinds["bad_phone"] + 1
        elif roll < 0.03:
            email, kinds["bad_email"] = f"client{i}@@example", kinds["bad_email"] + 1
        elif roll < 0.06 and phones:
            phone, email, kinds["repeat"] = rnd.choice(phones), "", kinds["repeat"] + 1
        else:
            kinds["good"] += 1
            phones.append(phone)
        company = f'"{rnd.choice(prefixes)} ""{rnd.choice(lasts)}""; филиал {rnd.randint(1, 9)}"' if roll > 0.5 else ""
        tags = ", ".join(t for t in {rnd.choice(TAGS), rnd.choice(TAGS)} if t)
        born = f"{rnd.randint(1, 28):02d}.{rnd.randint(1, 12):02d}.{rnd.randint(1950, 2005)}" if roll > 0.3 else ""
        address = f'"г. {rnd.choice(cities)}, ул. {rnd.choice(streets)}, д. {rnd.randint(1, 99)}"'
        lines.append(";".join([name, phone, email, company, f'"{tags}"' if "," in tags else tags, born, address]))
        if rnd.random() < 0.01:
            lines.append("")  # blank lines, as exports have
    return ("\r\n".join(lines) + "\r\n").encode("cp1251"), kinds


def _rss_kib(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu_seconds() -> float:
    """CPU of this process's reaped children: the import's worker processes, once the job has stopped its pool."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return -1.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _BackendCpu:
    """CPU seconds of the PostgreSQL backends serving the bench database (the machine's other work excluded):
    sampled while the job runs, each backend from when it is first seen (0 for one born during the job)."""

    def __init__(self) -> None:
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.kind: dict[int, str] = {}

    async def sample(self, conn: Any, *, starting: bool = False) -> None:
        for pid, kind in await conn.fetch(
                "SELECT pid, backend_type FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"):
            cpu = _proc_cpu(pid)
            if cpu < 0:
                continue
            self.first.setdefault(pid, cpu if starting else 0.0)
            self.last[pid] = cpu
            self.kind[pid] = kind

    @property
    def seconds(self) -> float:
        return sum(self.last[p] - self.first[p] for p in self.last)

    def by_kind(self) -> str:
        kinds: dict[str, float] = {}
        for pid in self.last:
            kinds[self.kind[pid]] = kinds.get(self.kind[pid], 0.0) + self.last[pid] - self.first[pid]
        return ", ".join(f"{kind} {seconds:.1f} s" for kind, seconds in sorted(kinds.items()))


def _reset_peak() -> bool:
    """Start the high-water mark (VmHWM) again from the current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


async def _raw_baseline(ctx: BenchContext, data: bytes, batch: int) -> float:
    """rows/s of COPY of the same rows (as the CSV reader splits them) into a plain table, in batches."""
    import asyncpg

    from app.lib import import_csv

    parsed = import_csv.parse(data)
    header, records = import_csv.records(parsed.text, parsed.delimiter)
    rows = [tuple((rec.cells + [""] * len(header))[:len(header)]) for rec in records]
    conn = await asyncpg.connect(ctx.dsn)
    try:
        await conn.execute("CREATE TABLE raw_import (" + ", ".join(f"c{i} text" for i in range(len(header))) + ")")
        t0 = time.perf_counter()
        for start in range(0, len(rows), batch):
            async with conn.transaction():
                await conn.copy_records_to_table("raw_import", records=rows[start:start + batch])
        seconds = time.perf_counter() - t0
        await conn.execute("DROP TABLE raw_import")
    finally:
        await conn.close()
    return len(rows) / seconds


def _tenths(track: list[tuple[float, int, float]], total: int) -> tuple[float, str]:
    """PostgreSQL CPU per row and wall rows/s over the file's first and last tenth (from the samples `_wait` took):
    whether a row costs more as the tables grow."""
    def over(lo: float, hi: float) -> tuple[float, float] | None:
        inside = [p for p in track if lo * total <= p[1] <= hi * total]
        if len(inside) < 2 or inside[-1][1] == inside[0][1]:
            return None
        rows = inside[-1][1] - inside[0][1]
        return (inside[-1][2] - inside[0][2]) / rows * 1e6, rows / (inside[-1][0] - inside[0][0])

    first, last = over(0.0, 0.1), over(0.9, 1.0)
    if first is None or last is None:
        return 0.0, "too few samples"
    return last[0] / first[0], (f"PostgreSQL {first[0]:.0f} -> {last[0]:.0f} µs a row (x{last[0] / first[0]:.2f}), wall {first[1]:,.0f} -> "
            f"{last[1]:,.0f} rows/s, first -> last tenth of the file")


async def _wait(tenant: Any, import_id: int, ctx: BenchContext, label: str,
                backends: _BackendCpu | None = None,
                track: list[tuple[float, int, float]] | None = None) -> dict[str, Any]:
    from app.contacts import imports
    from app.lib.db import tenant_context

    last_log = time.perf_counter()
    while True:
        async with tenant_context(tenant) as uow:
            state = await imports.get(import_id)
            if backends is not None:
                await backends.sample(uow.connection)
                if track is not None:
                    track.append((time.perf_counter(), state["processed"], backends.seconds))
        if state["status"] in ("done", "failed"):
            return state
        if time.perf_counter() - last_log > 10:
            ctx.log(f"{label}: {state['processed']:,} / {state['total']:,} rows")
            last_log = time.perf_counter()
        await asyncio.sleep(0.2)


async def _import(ctx: BenchContext, tenant: Any, actor: Any, data: bytes, label: str) -> tuple[dict[str, Any], float]:
    from app.contacts import imports
    from app.lib.db import tenant_context

    async def chunks() -> Any:  # as the web handler hands Litestar's spooled upload over: 64 KiB at a time
        for start in range(0, len(data), 65_536):
            yield data[start:start + 65_536]

    rss_before = _rss_kib()
    peak_known = _reset_peak()
    t0 = time.perf_counter()
    async with tenant_context(tenant):
        up = await imports.upload(actor, "export-1c.csv", chunks())
    upload_s = time.perf_counter() - t0
    ctx.log(f"{label}: upload of {len(data) / 1e6:.1f} MB ({up['total']:,} rows, {up['encoding']}, "
            f"{up['delimiter']!r}) in {upload_s:.2f} s; mapping {up['fields']}")
    if peak_known:
        ctx.record(f"{label}: upload's peak RSS growth", (_rss_kib("VmHWM") - rss_before) / 1024, "MiB",
                   f"streamed to storage and counted reading it back, {len(data) / 1e6:.1f} MB file "
                   f"({upload_s:.1f} s; the bench itself holds the file)")
    rss_before = _rss_kib()
    peak_known = _reset_peak()
    backends = _BackendCpu()
    async with tenant_context(tenant) as uow:
        await backends.sample(uow.connection, starting=True)
        await imports.start(actor, up["id"])
    t0 = time.perf_counter()
    cpu0, children0 = _cpu_seconds(), _children_cpu_seconds()
    track: list[tuple[float, int, float]] = []
    state = await _wait(tenant, up["id"], ctx, label, backends, track)
    seconds = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0
    await asyncio.sleep(1.5)  # the job stops its worker processes after the last batch: then their CPU is counted
    workers = _children_cpu_seconds() - children0
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rows = max(state["processed"], 1)
    ctx.record(f"{label}: CPU per row, app process / worker processes / PostgreSQL", cpu / rows * 1e6, "µs",
               f"app {cpu / rows * 1e6:.0f} µs, workers (parse-ahead, mapping, phones, emails) "
               f"{workers / rows * 1e6:.0f} µs, PostgreSQL backends of the bench database "
               f"{backends.seconds / rows * 1e6:.0f} µs a row ({cpu:.1f} + {workers:.1f} + {backends.seconds:.1f} s "
               f"CPU in {seconds:.1f} s wall; PostgreSQL's by backend type: {backends.by_kind()})")
    growth, tenths = _tenths(track, rows)
    ctx.record(f"{label}: PostgreSQL CPU per row, last tenth of the file / first", growth, "x", tenths)
    ctx.record(f"{label}: rows per CPU-second of the app process", state["processed"] / cpu, "rows/s",
               f"{cpu:.1f} s CPU (all threads; PostgreSQL's own not counted) for {state['processed']:,} rows in "
               f"{seconds:.1f} s wall: what one uncontended core would do, as other work on the machine moves wall time")
    if peak_known:
        ctx.record(f"{label}: peak RSS during the job", _rss_kib("VmHWM") / 1024, "MiB",
                   f"RSS before the start {rss_before / 1024:.0f} MiB (the bench holds the file and its rows); "
                   f"largest worker process's peak RSS {worker_peak:.0f} MiB")
    return state, seconds


async def main(ctx: BenchContext) -> None:
    from app import jobs as _jobs  # noqa: F401  (the job registry: `imports.start` enqueues contacts.run_import)
    from app.accounts.services import Principal
    from app.contacts import export, imports, queries
    from app.contacts.tables import Contact
    from app.lib.db import tenant_context
    from app.lib.imports import max_bytes
    from app.lib.jobs import Worker
    from app.settings import get_settings
    from tenants import services as tenant_services

    rows = 1_000_000 if ctx.env_int("BENCH_IMPORT_BIG", 0) else ctx.env_int("BENCH_IMPORT_ROWS", 100_000)
    ctx.section(f"generate a {rows:,}-row 1C-style CSV (cp1251, ';')")
    t0 = time.perf_counter()
    data, kinds = make_csv(rows)
    ctx.log(f"{len(data) / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s; {kinds}")
    if len(data) > max_bytes():
        os.environ["IMPORT_MAX_MB"] = str(len(data) // (1024 * 1024) + 1)
        get_settings.cache_clear()
        ctx.log(f"upload limit raised to {os.environ['IMPORT_MAX_MB']} MB for this file")

    ctx.section(f"raw baseline: COPY of the same rows into a plain table ({imports.default_batch_rows():,} per transaction)")
    raw = await _raw_baseline(ctx, data, imports.default_batch_rows())
    ctx.record("raw COPY rows/s (baseline)", raw, "rows/s", "asyncpg copy_records_to_table, same rows, same run")

    result = await tenant_services.signup("Bench import", "bench_import", "owner@bench-import.example",
                                          "bench-password-" + secrets.token_hex(6), owner_name="Owner")
    tenant = result.tenant
    actor = Principal(user_id=result.user_id, email="owner@bench-import.example", name="Owner", role="owner",
                      via="session", credential_id=0)
    async with tenant_context(tenant):
        from app.accounts.services import update_workspace

        await update_workspace(actor, default_region="RU")

    worker = Worker(ctx.dsn, poll_seconds=0.2)
    await worker.start()
    try:
        ctx.section("first import: every row new (or a repeat of an earlier row's phone)")
        state, seconds = await _import(ctx, tenant, actor, data, "first import")
        if state["status"] != "done":
            raise RuntimeError(f"import ended {state['status']}: {state}")
        rate = state["processed"] / seconds
        expected = (kinds["good"], kinds["bad_phone"] + kinds["bad_email"])
        # Rows that landed otherwise than the file says (a contact too many or too few, a refusal missed) mark the
        # figure FAILED instead of hiding in it.
        wrong = abs(state["created"] - expected[0]) + abs(state["failed"] - expected[1])
        ctx.record("import rows/s (new contacts)", rate, "rows/s",
                   f"{state['processed']:,} rows in {seconds:.1f} s through the queue: created {state['created']:,}, "
                   f"updated {state['updated']:,}, refused {state['failed']:,} (expected created/refused "
                   f"{expected[0]:,}/{expected[1]:,})", errors=wrong)
        ctx.record("import / raw COPY", rate / raw, "x", "phones normalised, dedupe on, timeline, one event per batch",
                   errors=wrong)
        ctx.record(f"import of {rows:,} rows, start to done", seconds, "s",
                   "BENCH_IMPORT_BIG=1 (or BENCH_IMPORT_ROWS=1000000) for the 1M-row run", errors=wrong)

        if ctx.env_int("BENCH_IMPORT_AGAIN", 1):
            ctx.section("same file again: every good row matches a contact, nothing to write")
            again, seconds = await _import(ctx, tenant, actor, data, "re-import")
            ctx.record("re-import rows/s (all matched)", again["processed"] / seconds, "rows/s",
                       f"created {again['created']:,}, unchanged {again['unchanged']:,}, refused {again['failed']:,}")
            ctx.record("re-import / raw COPY", again["processed"] / seconds / raw, "x")
            if again["created"] != 0:
                raise RuntimeError(f"re-import created {again['created']} contacts")
    finally:
        await worker.stop()

    ctx.section("export every contact as CSV")
    t0 = time.perf_counter()
    size = 0
    async with tenant_context(tenant):
        count = await Contact.count()
        async for chunk in export.csv_chunks(queries.ContactFilter()):
            size += len(chunk)
    seconds = time.perf_counter() - t0
    ctx.record("export rows/s", count / seconds, "rows/s",
               f"{count:,} contacts, {size / 1e6:.1f} MB in {seconds:.1f} s")


if __name__ == "__main__":
    from tests.bench.__main__ import main as run_benchmarks  # sets the environment before any app import

    sys.exit(run_benchmarks(["contacts_import"]))
