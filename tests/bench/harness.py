"""Shared pieces of the benchmark runner: environment, throwaway database, load drivers, the app under uvicorn.

Import nothing from the app at module level here: the environment must be set before any app module reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console

REPO = Path(__file__).resolve().parents[2]
ADMIN_DSN = os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_DB = f"sb_bench_{os.getpid()}"
BENCH_DSN = ADMIN_DSN.rsplit("/", 1)[0] + f"/{BENCH_DB}"


def setup_env() -> None:
    """Fix the app's settings before any app module is imported (mirrors tests/conftest.py)."""
    os.environ.update({
        "SWITCHBOARD_ENV": "dev",
        "DATABASE_URL": BENCH_DSN,
        "SECRET_KEY": "bench-secret-key-" + "x" * 32,
        "STATE_DIR": tempfile.mkdtemp(prefix="sb-bench-state-"),
        "BASE_URL": "http://127.0.0.1:8000",
        "MAIL_CATCHER": "false",
        "EMBEDDED_WORKER": "false",
        "AUTH_RATE_PER_MINUTE": "1000000",
        # The API's per-key and per-shop limits still run on every request (their cost is in the figures); a
        # load test is far above what a shop's key may send, so they are set out of its way.
        "API_RATE_PER_MINUTE": "100000000",
        "TENANT_API_RATE_PER_MINUTE": "100000000",
        "WEBHOOK_ALLOW_LOOPBACK": "true",  # bench_webhooks' receiver listens on 127.0.0.1
        "TEMPLATES_RELOAD": "false",  # as deployed (SWITCHBOARD_ENV=prod): no stat() of every template per render
    })
    os.environ.pop("REDIS_URL", None)


# --------------------------------------------------------------------------------------------------------------
# Results and context


@dataclasses.dataclass
class Figure:
    """One figure; `errors` (failed calls) and `lost` (frames or mails that never arrived) were left out of it,
    so any of them marks it FAILED: a percentile over the calls that worked hides the ones that did not."""

    module: str
    name: str
    value: float | int | str
    unit: str = ""
    note: str = ""
    errors: int = 0
    lost: int = 0

    @property
    def failed(self) -> str:
        """'' when every sample counted, else e.g. 'FAILED: 3 errors, 1 lost'."""
        parts = [f"{n} {what}" for n, what in ((self.errors, "errors"), (self.lost, "lost")) if n]
        return f"FAILED: {', '.join(parts)}" if parts else ""


@dataclasses.dataclass
class BenchContext:
    module: str
    console: Console
    dsn: str = BENCH_DSN
    admin_dsn: str = ADMIN_DSN
    db_name: str = BENCH_DB
    figures: list[Figure] = dataclasses.field(default_factory=list)

    def record(self, name: str, value: float | int | str, unit: str = "", note: str = "", *, errors: int = 0,
               lost: int = 0) -> None:
        """A row of the summary table; also printed at once. Pass the failed calls (`errors`) and the frames or
        messages that never arrived (`lost`) of the samples behind the figure: any marks it FAILED."""
        fig = Figure(self.module, name, value, unit, note, errors, lost)
        self.figures.append(fig)
        self.console.print(f"  [cyan]{name}[/cyan]: [b]{fmt_value(value)}[/b] {unit}"
                           + (f"  [red]{fig.failed}[/red]" if fig.failed else "")
                           + (f"  [dim]({note})[/dim]" if note else ""))

    def section(self, title: str) -> None:
        self.console.rule(f"[b]{self.module}[/b] · {title}", align="left")

    def log(self, message: str) -> None:
        self.console.print(f"  [dim]{message}[/dim]")

    @staticmethod
    def env_int(name: str, default: int) -> int:
        """Sizes are overridable for quick runs, e.g. BENCH_SIGNUPS=10 BENCH_TENANTS=50 BENCH_DURATION=3."""
        raw = os.environ.get(name)
        return int(raw) if raw else default


def fmt_value(value: float | int | str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3f}"


def percentiles(samples: Sequence[float], points: Sequence[float] = (50, 95, 99)) -> dict[float, float]:
    """Linear-interpolated percentiles (same as numpy's default); empty input gives NaN."""
    data = sorted(samples)
    out: dict[float, float] = {}
    for p in points:
        if not data:
            out[p] = math.nan
            continue
        k = (len(data) - 1) * p / 100
        lo, hi = math.floor(k), math.ceil(k)
        out[p] = data[lo] + (data[hi] - data[lo]) * (k - lo)
    return out


# --------------------------------------------------------------------------------------------------------------
# Machine and database


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)
    return {
        "cpu": cpu,
        "cores": str(cores),
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


async def postgres_version() -> str:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        return str(await conn.fetchval("SHOW server_version")).split()[0]
    finally:
        await conn.close()


async def create_database() -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await conn.close()


async def drop_database() -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def platform_database(pool_max: int = 10) -> AsyncIterator[None]:
    """A fresh database with the platform installed and the app's pool open on it; dropped afterwards."""
    from app.lib.db import start_database, stop_database
    from app.lib.jobs import install_queue
    from tenants import services as tenant_services

    await create_database()
    try:
        await start_database(BENCH_DSN, 2, pool_max)
        try:
            await install_queue(BENCH_DSN)
            await tenant_services.migrate_platform()
            yield
        finally:
            await stop_database()
    finally:
        await drop_database()


# --------------------------------------------------------------------------------------------------------------
# Load drivers


@dataclasses.dataclass
class LoadResult:
    label: str
    concurrency: int
    seconds: float
    ok: int
    errors: int
    latencies_ms: list[float]
    first_error: str = ""

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        return percentiles(self.latencies_ms, (p,))[p]


async def closed_loop(label: str, op: Callable[[int], Awaitable[bool]], *, concurrency: int, warmup: float,
                      duration: float) -> LoadResult:
    """`concurrency` workers call `op(worker_no)` back to back for warmup + duration seconds. Only calls that
    start and end inside the measured window count; `op` returns False (or raises) for an error."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    window_start = start + warmup
    window_end = window_start + duration
    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0}
    first_error: list[str] = []

    async def worker(n: int) -> None:
        while True:
            t0 = loop.time()
            if t0 >= window_end:
                return
            try:
                good = await op(n)
            except Exception as exc:
                good = False
                if not first_error:
                    first_error.append(f"{type(exc).__name__}: {exc}")
            t1 = loop.time()
            if t0 >= window_start and t1 <= window_end:
                if good:
                    counts["ok"] += 1
                    latencies.append((t1 - t0) * 1000)
                else:
                    counts["errors"] += 1

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return LoadResult(label, concurrency, duration, counts["ok"], counts["errors"], latencies,
                      first_error[0] if first_error else "")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class AppServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextlib.asynccontextmanager
async def app_server(extra_env: dict[str, str] | None = None, timeout: float = 60.0,
                     factory: str = "app.asgi:create_app") -> AsyncIterator[AppServer]:
    """The real app (`app.asgi:create_app`; or another app `factory`, e.g. the bare baseline) under uvicorn, one
    worker process, on a free loopback port, against the bench database. Stopped with SIGTERM (then SIGKILL) on
    exit."""

    port = free_port()
    env = {**os.environ, "DATABASE_URL": BENCH_DSN, "EMBEDDED_WORKER": "false",
           "BASE_URL": f"http://127.0.0.1:{port}", **(extra_env or {})}
    log_file = tempfile.NamedTemporaryFile(prefix="sb-bench-uvicorn-", suffix=".log", delete=False)
    cmd = [sys.executable, "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1", "--no-access-log", "--log-level", "warning",
           "--lifespan", "on"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    server = AppServer(f"http://127.0.0.1:{port}", proc, Path(log_file.name))
    try:
        await wait_healthy(server.base_url, proc, server.log_tail, timeout, "uvicorn")
        yield server
    finally:
        await stop_child(proc, log_file, 15)


async def wait_healthy(base_url: str, proc: subprocess.Popen[bytes], log_tail: Callable[[], str], timeout: float,
                       what: str) -> None:
    """Until `base_url`/health answers 200; an error with the log's tail if `proc` exits or `timeout` passes."""
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base_url, timeout=2.0) as client:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/health")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not answer /health within {timeout:.0f}s:\n{log_tail()}")
            await asyncio.sleep(0.2)


async def stop_child(proc: subprocess.Popen[bytes], log_file: Any, wait: float) -> None:
    """SIGTERM, `wait` seconds, then SIGKILL; the log file is closed and removed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait)
    log_file.close()
    with contextlib.suppress(OSError):
        os.unlink(log_file.name)


def wrk_available() -> str | None:
    return shutil.which("wrk")


_WRK_SCRIPT = """
local targets = {%s}
local n = #targets
local i = 0
request = function()
  i = (i %% n) + 1
  local t = targets[i]
  return wrk.format("GET", t[1], {["Authorization"] = "Bearer " .. t[2]})
end
"""

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text.strip())
    if not m:
        return math.nan
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclasses.dataclass
class WrkResult:
    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: str
    raw: str

    @property
    def socket_error_count(self) -> int:
        """connect + read + write + timeout of wrk's 'Socket errors: connect 0, read 0, write 0, timeout 12'."""
        return sum(int(n) for n in re.findall(r"\d+", self.socket_errors))


async def wrk_load(base_url: str, targets: Sequence[tuple[str, str]], *, connections: int, duration: float,
                   warmup: float, threads: int = 1) -> WrkResult:
    """Drive GETs with wrk over (path, bearer key) pairs in rotation; warm-up run first, then the measured run."""
    exe = wrk_available()
    if exe is None:
        raise RuntimeError("wrk is not installed")
    body = ", ".join('{"%s", "%s"}' % (path, key) for path, key in targets)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % body)
    try:
        async def run(seconds: float) -> str:
            proc = await asyncio.create_subprocess_exec(
                exe, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
                "-s", script.name, base_url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            out, _ = await proc.communicate()
            return out.decode(errors="replace")

        if warmup > 0:
            await run(warmup)
        raw = await run(duration)
    finally:
        os.unlink(script.name)
    rate = float(m.group(1)) if (m := re.search(r"Requests/sec:\s+([\d.]+)", raw)) else math.nan
    p50 = _ms(m.group(1)) if (m := re.search(r"^\s+50%\s+(\S+)", raw, re.M)) else math.nan
    p99 = _ms(m.group(1)) if (m := re.search(r"^\s+99%\s+(\S+)", raw, re.M)) else math.nan
    reqs = int(m.group(1)) if (m := re.search(r"(\d+) requests in", raw)) else 0
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", raw)) else 0
    sock = m.group(0).strip() if (m := re.search(r"Socket errors:.*", raw)) else ""
    return WrkResult(rate, p50, p99, reqs, non2xx, sock, raw)


def hardware_note(info: dict[str, Any]) -> str:
    return f"{info['cores']} cores, {info['cpu']}"
