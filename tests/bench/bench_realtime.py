"""Realtime: commit → websocket frame latency at 100/1,000/5,000 consoles, idle RSS per console, raw Redis pub/sub.

Setup: BENCH_RT_TENANTS (10) shops from `tenants.services.signup`, BENCH_RT_USERS (5) users each (owner +
operators), one session per console (`app.accounts.services.create_session` inside `tenant_context`). The real app
runs as uvicorn subprocess(es) (`harness.app_server`: one worker, uvloop/httptools, the websockets-sansio
protocol uvicorn picks with permessage-deflate on) with REDIS_URL and a unique REDIS_PREFIX, EMBEDDED_WORKER=false.
Consoles are `websockets` clients in this process (one asyncio loop), each with its session cookie and
`Origin` = the server's BASE_URL, opened with `?last_id=` like tests/servers.py ConsoleSocket; console c belongs
to tenant c % TENANTS, so consoles are spread evenly.

1. Idle consoles and RSS: a fresh server; VmRSS (/proc/<pid>/status) after one warm-up console, then after
   connecting up to BENCH_RT_IDLE (5000) idle consoles in steps; KB per console = ΔRSS / Δconsoles.
2. Raw Redis PUBLISH → SUBSCRIBE (redis.asyncio, publisher and subscriber in this process, payload = the
   perf_counter_ns of the send) at each rate: the floor under our stack.
3. Commit → frame: a fresh server; consoles connected in steps BENCH_RT_CONSOLES ("100,1000,5000"); at each
   step, events are published at each rate of BENCH_RT_RATES ("100,1000") events/s in total (round-robin over the
   tenants, so each console receives rate / TENANTS events/s) for BENCH_RT_SECONDS (5) s, open loop. An event is
   `realtime.publish.publish(EVENT, {"contact_id": i}, channels=[queue()])` inside `tenant_context` (one
   transaction: event-log row + commit, then the Redis PUBLISH after commit). The commit time is stamped by an
   `after_commit` hook registered before `publish` (so it runs right after COMMIT, before the PUBLISH); the
   arrival time is taken in the client when the frame is read, the event id parsed from the `#sb-last-event`
   marker. Both are `time.perf_counter()` of this process. EVENT is the first of contact.created / order.created /
   ... that has NO renderer (checked at start): the frame is the marker only, so this is the transport's
   latency (hub, per-socket queue, marker, deflate, send), not a panel render. A cell whose fan-out would exceed
   BENCH_RT_MAX_FRAMES (100000) frames is shortened (a burst, then): the offered and delivered frame rates tell
   whether it was sustainable.
4. Rendered events at every console step: `queue.item_added` and the conversation.* mix, whose renderers (the console's queue, totals and team
   per role, "mine" for the operator concerned, the supervisors' live calls, the workspace list and unread counts,
   the home page's figures) run once per audience for all the feed's sockets (realtime.render), at
   BENCH_RT_HEAVY_RATES ("10,200") events/s.
The latency runs (3, 4) are repeated per web layout of BENCH_RT_WORKERS ("1,2"): 1 = one uvicorn process, N > 1 =
`switchboard run --workers N` (N processes on one port, each rendering for its own sockets). Their consoles live
in BENCH_RT_CLIENT_PROCS (1) client processes of their own (tests/bench/console_fleet.py; 0 = in this process), so
the server's CPU is not shared with the clients' event loop. The rendered cells publish a mix of real console
events in turn (HEAVY_MIX: queue.item_added, conversation.assigned, queue.item_taken, ...), each rendering item
fragments; every `#sb-last-event` marker of a frame counts (the hub coalesces a busy socket's messages into one
frame): the cells print websocket frames/s and messages per frame, and the messages lost.

Figures move with other work on the machine: the load average is printed per run.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import resource
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.bench.console_fleet import Consoles as Fleet
from tests.bench.harness import AppServer, BenchContext, app_server, percentiles

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
LIGHT_CANDIDATES = ("contact.created", "order.created", "deal.moved", "message.received", "interaction.updated")
HEAVY_EVENT = "queue.item_added"
DRAIN_IDLE = float(os.environ.get("BENCH_RT_IDLE_DRAIN", "10"))
HEAVY_MIX = ("queue.item_added", "conversation.assigned", "queue.item_taken", "conversation.snoozed",
             "queue.item_removed", "conversation.reopened")
"""The rendered cells publish these in turn (a console's real queue events; each renders item fragments)."""


RAW_P50: dict[int, float] = {}
"""Raw Redis pub→sub p50 (ms) per rate, from this run's bench_raw_redis: the floor each latency cell is set against."""
TARGET = (50.0, 250.0)
"""Issue 15's target for commit → frame at 2,000 consoles x 200 events/s: p50, p99 (ms)."""


def watched(event: str) -> str:
    """What a cell counts: the light event alone, or every event of the rendered mix (comma-separated)."""
    return ",".join(HEAVY_MIX) if event == HEAVY_EVENT else event


def env_list(name: str, default: str) -> list[int]:
    raw = os.environ.get(name) or default
    return [int(x) for x in raw.replace(" ", "").split(",") if x]


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU seconds used so far by the machine's PostgreSQL: every live postgres process, plus what the backends
    that exited used (the postmaster's reaped children, cutime + cstime), so connections replaced during a cell
    count too. Other work in other databases counts as well: a figure for a quiet machine."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, list[str]] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if (proc / "comm").read_text().strip() == "postgres":
                    stats[int(proc.name)] = (proc / "stat").read_text().rsplit(")", 1)[1].split()
    total = 0
    for fields in stats.values():
        total += int(fields[11]) + int(fields[12])
        if int(fields[1]) not in stats:  # the postmaster: its parent is not PostgreSQL
            total += int(fields[13]) + int(fields[14])
    return total / tick


async def sessions_opened(dsn: str) -> int:
    """Connections opened to the bench's database so far (pg_stat_database.sessions): pools replacing theirs."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT sessions FROM pg_stat_database WHERE datname = current_database()"))
    finally:
        await conn.close()


def runq_wait(pid: int) -> float:
    """Seconds the process's main thread spent runnable but waiting for a CPU (/proc/<pid>/schedstat)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def self_cpu() -> float:
    t = os.times()
    return t.user + t.system


# --------------------------------------------------------------------------------------------------------------
# Shops, users, sessions


@dataclasses.dataclass
class Shop:
    ref: Any  # TenantRef
    users: list[int]
    conversations: list[dict[str, Any]] = dataclasses.field(default_factory=list)


async def make_shops(ctx: BenchContext, n_tenants: int, n_users: int) -> list[Shop]:
    from app.accounts.tables import User
    from app.lib.db import tenant_context
    from tenants import services

    shops: list[Shop] = []
    t0 = time.perf_counter()
    for i in range(n_tenants):
        res = await services.signup(f"Realtime shop {i}", f"rt_{i:03d}", f"owner@rt-{i}.example",
                                    "bench-password-" + secrets.token_hex(6), owner_name="Owner")
        users = [res.user_id]
        async with tenant_context(res.tenant):
            for u in range(1, n_users):
                rows = await User.insert(User(email=f"op{u}@rt-{i}.example", name=f"Operator {u}",
                                              role="operator")).returning(User.id)
                users.append(rows[0]["id"])
        shops.append(Shop(res.tenant, users))
    ctx.log(f"{n_tenants} shops x {n_users} users created in {time.perf_counter() - t0:.1f} s (not timed)")
    return shops


async def make_sessions(shops: list[Shop], n_consoles: int) -> list[str]:
    """One session per console; console c belongs to shop c % len(shops), user (c // len(shops)) % users."""
    from app.accounts.services import create_session
    from app.lib.db import tenant_context

    tokens: list[str | None] = [None] * n_consoles
    for ti, shop in enumerate(shops):
        async with tenant_context(shop.ref):
            for c in range(ti, n_consoles, len(shops)):
                user = shop.users[(c // len(shops)) % len(shop.users)]
                tokens[c], _ = await create_session(user)
    return [t for t in tokens if t is not None]


# --------------------------------------------------------------------------------------------------------------
# The consoles


class RemoteFleet:
    """Consoles in `procs` client processes of their own (tests/bench/console_fleet.py), so the server's process
    shares no event loop with them; the same face as `Fleet` for the latency cells."""

    def __init__(self, procs: int) -> None:
        self.n_procs = max(1, procs)
        self.procs: list[asyncio.subprocess.Process] = []
        self.per_tenant: Counter[int] = Counter()
        self.close_codes: Counter[str] = Counter()
        self.open = 0
        self.pids: list[int] = []

    def __len__(self) -> int:
        return self.open

    async def start(self) -> None:
        import sys

        from tests.bench.harness import REPO

        for _ in range(self.n_procs):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.bench.console_fleet", cwd=REPO, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, limit=1 << 30)
            self.procs.append(proc)
            self.pids.append(proc.pid)

    async def _ask(self, proc: asyncio.subprocess.Process, cmd: dict[str, Any]) -> dict[str, Any]:
        import json

        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await proc.stdin.drain()
        answer = json.loads(await proc.stdout.readline())
        if "error" in answer:
            raise RuntimeError(f"console client {proc.pid}: {answer['error']}")
        return answer

    async def _all(self, cmd: dict[str, Any]) -> list[dict[str, Any]]:
        return await asyncio.gather(*(self._ask(p, cmd) for p in self.procs))

    async def connect_many(self, targets: list[tuple[str, str, int, str, str]]) -> float:
        t0 = time.perf_counter()
        parts = [targets[i::len(self.procs)] for i in range(len(self.procs))]
        got = await asyncio.gather(*(self._ask(p, {"op": "connect", "targets": part})
                                     for p, part in zip(self.procs, parts, strict=True)))
        self.open = sum(g["open"] for g in got)
        for t in targets:
            self.per_tenant[t[2]] += 1
        return time.perf_counter() - t0

    def reset(self, watch: str) -> None:
        self._watch = watch

    async def watch(self, event: str) -> None:
        await self._all({"op": "watch", "event": event})

    async def count(self) -> tuple[int, int]:
        got = await self._all({"op": "count"})
        return sum(g["arrivals"] for g in got), sum(g["frames_total"] for g in got)

    async def collect(self) -> tuple[list[tuple[int, int, float]], int, int]:
        got = await self._all({"op": "collect"})
        arrivals = [tuple(a) for g in got for a in g["arrivals"]]
        self.close_codes = Counter()
        for g in got:
            self.close_codes.update(g["close_codes"])
        return arrivals, sum(g["frames"] for g in got), sum(g["messages"] for g in got)  # type: ignore[return-value]

    async def close_all(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._all({"op": "close"}), 60)
        for proc in self.procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            await proc.wait()
        self.procs.clear()


def targets_for(shops: list[Shop], tokens: list[str], servers: list[AppServer], start: int, stop: int
                ) -> list[tuple[str, str, int, str, str]]:
    out = []
    for c in range(start, stop):
        ti = c % len(shops)
        server = servers[c % len(servers)]
        out.append((server.base_url.replace("http://", "ws://"), server.base_url, ti, shops[ti].ref.slug, tokens[c]))
    return out


# --------------------------------------------------------------------------------------------------------------
# Open-loop publishing


@dataclasses.dataclass
class PubRun:
    commits: dict[tuple[int, int], float]
    commit_ms: list[float]
    events: int
    seconds: float
    errors: int
    first_error: str = ""

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def open_loop(rate: float, n: int, fire: Callable[[int], Awaitable[None]]) -> float:
    """Start fire(i) at start + i/rate (never waiting for earlier ones); returns the publishing wall time."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()
    start = loop.time() + 0.01
    for i in range(n):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(fire(i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    return loop.time() - start


async def publish_events(shops: list[Shop], name: str, rate: float, n: int) -> PubRun:
    from app.lib.db import tenant_context
    from realtime import channels
    from realtime.publish import publish

    commits: dict[tuple[int, int], float] = {}
    commit_ms: list[float] = []
    errors: list[str] = []
    clock = time.perf_counter

    async def fire(i: int) -> None:
        ti = i % len(shops)
        shop = shops[ti]
        holder: list[int] = []
        t0 = clock()

        async def stamp() -> None:  # runs right after COMMIT, before the Redis PUBLISH hook
            t = clock()
            commits[(ti, holder[0])] = t
            commit_ms.append((t - t0) * 1000)

        try:
            async with tenant_context(shop.ref) as uow:
                uow.after_commit(stamp)
                kind = name
                if name == HEAVY_EVENT:
                    kind = HEAVY_MIX[(i // len(shops)) % len(HEAVY_MIX)]
                    conv = shop.conversations[i // len(shops) % len(shop.conversations)]
                    data = {"conversation_id": conv["id"], "queue_id": conv["queue_id"], "contact_id": 0}
                else:
                    data = {"contact_id": i + 1}
                event = await publish(kind, data, channels=[channels.queue()])
                holder.append(event.id)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

    seconds = await open_loop(rate, n, fire)
    return PubRun(commits, commit_ms, n, seconds, len(errors), errors[0] if errors else "")


# --------------------------------------------------------------------------------------------------------------


async def main(ctx: BenchContext) -> None:
    from app.asgi import create_app
    from realtime import runtime as rt_mod
    from realtime.backends.redis import RedisBackend
    from realtime.hub import Hub
    from realtime.presence import RedisPresence
    from realtime.render import _RENDERERS

    create_app()  # imports what the server imports, so every renderer is registered here too
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    n_tenants = ctx.env_int("BENCH_RT_TENANTS", 10)
    n_users = ctx.env_int("BENCH_RT_USERS", 5)
    steps = sorted(env_list("BENCH_RT_CONSOLES", "100,1000,2000,5000"))
    rates = env_list("BENCH_RT_RATES", "100,1000")
    heavy_rates = env_list("BENCH_RT_HEAVY_RATES", "10,200")
    n_idle = ctx.env_int("BENCH_RT_IDLE", 5000)
    seconds = float(ctx.env_int("BENCH_RT_SECONDS", 5))
    max_frames = ctx.env_int("BENCH_RT_MAX_FRAMES", 100_000)
    workers_list = env_list("BENCH_RT_WORKERS", "1,2")
    client_procs = ctx.env_int("BENCH_RT_CLIENT_PROCS", 1)
    ctx.log(f"fd limit {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}; load average {load_avg()}")

    light = next((e for e in LIGHT_CANDIDATES if not _RENDERERS.get(e)), None)
    if light is None:
        raise RuntimeError(f"every candidate light event has a renderer now: {LIGHT_CANDIDATES}")
    ctx.log(f"light event: {light!r} (no renderer: the frame is the #sb-last-event marker only); "
            f"heavy event: {HEAVY_EVENT!r} (renderers: "
            f"{', '.join(getattr(f, '__qualname__', '?') for f in _RENDERERS.get(HEAVY_EVENT, []))})")

    shops = await make_shops(ctx, n_tenants, n_users)
    n_sessions = max([n_idle, *steps])
    t0 = time.perf_counter()
    tokens = await make_sessions(shops, n_sessions)
    ctx.log(f"{len(tokens):,} sessions created in {time.perf_counter() - t0:.1f} s (not timed)")

    prefix = f"sbbench-{os.getpid()}-{secrets.token_hex(4)}"
    env = {"REDIS_URL": REDIS_URL, "REDIS_PREFIX": prefix, "EMBEDDED_WORKER": "false"}
    backend, presence = RedisBackend(REDIS_URL, prefix), RedisPresence(REDIS_URL, prefix)
    await rt_mod.stop()
    await rt_mod.start(rt_mod.Runtime(backend=backend, presence=presence, hub=Hub(backend, presence)))
    try:
        await seed_conversations(shops)
        await bench_commit_floor(ctx, shops)
        if n_idle > 0:
            await bench_idle_rss(ctx, shops, tokens, env, n_idle)
        if ctx.env_int("BENCH_RT_LATENCY", 1):
            await bench_raw_redis(ctx, sorted({*rates, *heavy_rates}), seconds)
            for workers in workers_list:
                await bench_latency(ctx, shops, tokens, env, steps, rates, heavy_rates, light, seconds, max_frames,
                                    workers, client_procs)
    finally:
        await rt_mod.stop()
        with contextlib.suppress(Exception):
            await cleanup_redis(prefix)


async def seed_conversations(shops: list[Shop]) -> None:
    """A few waiting conversations per shop, so the heavy event's panels have something to render."""
    from app.conversations import services
    from app.lib.db import tenant_context

    for shop in shops:
        async with tenant_context(shop.ref):
            for k in range(3):
                shop.conversations.append(await services.open_conversation(
                    channel=("chat", "sms", "email")[k], subject=f"Waiting customer {k}"))


async def cleanup_redis(prefix: str) -> None:
    import redis.asyncio as aioredis

    r = aioredis.from_url(REDIS_URL)
    try:
        keys = [k async for k in r.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await r.delete(*keys)
    finally:
        await r.aclose()


async def bench_commit_floor(ctx: BenchContext, shops: list[Shop], n: int = 200) -> None:
    """The time of one publishing transaction (sequential). Writers of one tenant no longer queue behind each other
    (ids from a sequence, see realtime.log), so this is a latency, not the tenant's ceiling: bench_events
    measures the concurrent rate."""
    from app.lib.db import tenant_context
    from realtime import channels
    from realtime.publish import publish

    ctx.section("publish transaction, one at a time (latency of one unit of work that publishes)")
    times: list[float] = []
    shop = shops[0]
    for i in range(n):
        t0 = time.perf_counter()
        async with tenant_context(shop.ref):
            await publish("contact.created", {"contact_id": i + 1}, channels=[channels.queue()])
        times.append((time.perf_counter() - t0) * 1000)
    p = percentiles(times, (50, 99))
    ctx.record("publish tx (BEGIN, SET LOCAL, event_log INSERT, COMMIT, PUBLISH) p50 / p99",
               f"{p[50]:.2f} / {p[99]:.2f}", "ms",
               f"{n} sequential, one tenant (≈ {1000 / p[50]:,.0f} events/s for one writer; see bench_events); "
               f"load average {load_avg()}")


# --------------------------------------------------------------------------------------------------------------
# 1. Idle consoles and RSS


async def bench_idle_rss(ctx: BenchContext, shops: list[Shop], tokens: list[str], env: dict[str, str],
                         n_idle: int) -> None:
    ctx.section(f"idle consoles on ONE server process: RSS up to {n_idle:,} consoles")
    fleet = Fleet()
    async with app_server(env) as server:
        pid = server.process.pid
        # Warm up: one console and one delivered event (lazy imports, the feed, the Redis connections).
        await fleet.connect_many(targets_for(shops, tokens, [server], 0, 1))
        fleet.reset("contact.created")
        await publish_events(shops[:1], "contact.created", 10, 1)
        await asyncio.sleep(0.5)
        base = rss_kb(pid)
        ctx.record("server RSS, 1 console (warm)", base / 1024, "MiB", f"pid {pid}")
        points = sorted({s for s in (100, 1000, 2000, n_idle) if 1 < s <= n_idle})
        done = 1
        prev_rss, prev_n = base, 1
        for n in points:
            cpu0 = cpu_seconds(pid)
            took = await fleet.connect_many(targets_for(shops, tokens, [server], done, n))
            cpu = cpu_seconds(pid) - cpu0
            connected = n - done
            done = n
            await asyncio.sleep(2.0)  # heartbeats, session checks settle
            now = rss_kb(pid)
            ctx.record(f"server RSS, {n:,} idle consoles", now / 1024, "MiB",
                       f"+{(now - prev_rss) / max(1, n - prev_n):.1f} KB/console over the last {n - prev_n:,}; "
                       f"connected {connected:,} in {took:.1f} s ({connected / took:.0f}/s, "
                       f"server CPU {cpu:.1f} s = {cpu / connected * 1000:.2f} ms/handshake)")
            prev_rss, prev_n = now, n
        final = rss_kb(pid)
        ctx.record("server RSS per idle console", (final - base) / max(1, done - 1), "KB",
                   f"(RSS at {done:,} - RSS at 1) / {done - 1:,}; load average {load_avg()}")
        cpu0 = cpu_seconds(pid)
        await asyncio.sleep(5.0)
        ctx.record(f"server CPU with {done:,} idle consoles", (cpu_seconds(pid) - cpu0) / 5.0 * 100, "%",
                   "of one core, over 5 s: session checks, presence heartbeats, pings")
        await fleet.close_all()
        await asyncio.sleep(1.0)
        ctx.record("server RSS after closing them", rss_kb(pid) / 1024, "MiB",
                   f"close codes seen (None: no close frame within 2 s): {dict(fleet.close_codes) or 'none'}")
    per_console = (final - base) / max(1, done - 1)
    await bare_idle_rss(ctx, done, per_console, lean=False)
    await bare_idle_rss(ctx, done, per_console, lean=True)


async def bare_idle_rss(ctx: BenchContext, n: int, app_kb: float, *, lean: bool) -> None:
    """Baseline: the same number of idle websockets on a bare ASGI app (tests/bench/bare_ws.py `idle`) under the same
    uvicorn: what a socket costs before any of our code runs; `lean`: with the app's compression setting
    (realtime.sockets.lean_compression), else uvicorn's default (a zlib context kept per socket)."""
    from websockets.asyncio.client import connect

    socks: list[Any] = []
    async with app_server({"BARE_WS_LEAN": "1" if lean else "0"}, factory="tests.bench.bare_ws:idle") as server:
        url = server.base_url.replace("http", "ws", 1) + "/"
        try:
            socks.append(await connect(url, ping_interval=None, close_timeout=1))
            await socks[0].recv()
            await asyncio.sleep(0.5)
            base = rss_kb(server.process.pid)
            sem = asyncio.Semaphore(50)

            async def one() -> None:
                async with sem:
                    ws = await connect(url, ping_interval=None, close_timeout=1, open_timeout=60)
                    await ws.recv()
                    socks.append(ws)

            await asyncio.gather(*(one() for _ in range(n - 1)))
            await asyncio.sleep(2.0)
            per = (rss_kb(server.process.pid) - base) / max(1, n - 1)
            ctx.record(f"  baseline: bare ASGI websocket server RSS per idle socket "
                       f"({'lean compression, as the app' if lean else 'uvicorn default compression'})", per, "KB",
                       f"{n:,} sockets, same uvicorn; app/bare {app_kb / per:.2f}x; app overhead "
                       f"{app_kb - per:.1f} KB/console")
        finally:
            await asyncio.gather(*(ws.close() for ws in socks), return_exceptions=True)


# --------------------------------------------------------------------------------------------------------------
# 2. Raw Redis PUBLISH → SUBSCRIBE


async def bench_raw_redis(ctx: BenchContext, rates: list[int], seconds: float) -> None:
    import redis.asyncio as aioredis

    ctx.section("raw Redis PUBLISH → SUBSCRIBE (redis.asyncio, one subscriber, this process)")
    pub = aioredis.from_url(REDIS_URL, max_connections=1)
    sub_client = aioredis.from_url(REDIS_URL)
    pubsub = sub_client.pubsub()
    channel = f"sbbench-raw-{os.getpid()}"
    await pubsub.subscribe(channel)
    while (await pubsub.get_message(timeout=1.0)) is None:
        pass  # the subscribe confirmation
    lat: list[float] = []

    async def reader() -> None:
        while True:
            msg = await pubsub.get_message(timeout=None)
            if msg is not None and msg["type"] == "message":
                lat.append((time.perf_counter_ns() - int(msg["data"])) / 1e6)

    task = asyncio.create_task(reader())
    try:
        for rate in rates:
            lat.clear()
            n = int(rate * seconds)

            # One publisher, one command at a time on one connection (as the backend's publish does): tasks per
            # message would make redis-py open a connection per concurrent PUBLISH.
            loop = asyncio.get_running_loop()
            start = loop.time()
            for i in range(n):
                delay = start + i / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                await pub.publish(channel, str(time.perf_counter_ns()))
            took = loop.time() - start
            deadline = time.monotonic() + 5
            while len(lat) < n and time.monotonic() < deadline:  # noqa: ASYNC110 (a poll with a deadline)
                await asyncio.sleep(0.05)
            p = percentiles(lat, (50, 99))
            RAW_P50[rate] = p[50]
            ctx.record(f"raw Redis pub→sub @ {rate:,}/s p50 / p99", f"{p[50]:.3f} / {p[99]:.3f}", "ms",
                       f"{len(lat):,}/{n:,} received, published in {took:.1f} s; load average {load_avg()}",
                       lost=max(0, n - len(lat)))
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        await pubsub.aclose()
        await sub_client.aclose()
        await pub.aclose()


# --------------------------------------------------------------------------------------------------------------
# 3. Commit → websocket frame


@contextlib.asynccontextmanager
async def web_processes(env: dict[str, str], workers: int) -> AsyncIterator[tuple[list[AppServer], list[int]]]:
    """The app's web tier: one uvicorn process (`harness.app_server`), or `switchboard run --workers N` (uvicorn's
    supervisor and N processes on one port, as in production); the servers to connect to and the pids that serve."""
    if workers <= 1:
        async with app_server(env) as server:
            yield [server], [server.process.pid]
        return
    import subprocess
    import sys
    import tempfile

    from tests.bench.harness import REPO, free_port, stop_child, wait_healthy

    port = free_port()
    full = {**os.environ, "PORT": str(port), "BASE_URL": f"http://127.0.0.1:{port}", "MAIL_CATCHER": "false",
            "TWILIO_API_BASE": "https://api.twilio.invalid", **env}
    log = tempfile.NamedTemporaryFile(prefix="sb-bench-run-", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "run", "--no-demo", "--no-mail-in", "--workers",
                             str(workers)], cwd=REPO, env=full, stdout=log, stderr=subprocess.STDOUT)
    server = AppServer(f"http://127.0.0.1:{port}", proc, Path(log.name))
    try:
        await wait_healthy(server.base_url, proc, server.log_tail, 180, "switchboard run")
        await asyncio.sleep(3)  # the other processes finish their start-up too
        yield [server], descendants(proc.pid) or [proc.pid]
    finally:
        await stop_child(proc, log, 30)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (uvicorn's workers under its supervisor)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError):
                kids = [int(k) for k in (task / "children").read_text().split()]
                out.extend(kids)
                todo.extend(kids)
    return out


async def bench_latency(ctx: BenchContext, shops: list[Shop], tokens: list[str], env: dict[str, str],
                        steps: list[int], rates: list[int], heavy_rates: list[int], light: str, seconds: float,
                        max_frames: int, workers: int, client_procs: int) -> None:
    where = f"`switchboard run --workers {workers}`" if workers > 1 else "1 server process"
    clients = f"{client_procs} client process(es)" if client_procs else "the bench process"
    async with contextlib.AsyncExitStack() as stack:
        servers, pids = await stack.enter_async_context(web_processes(env, workers))
        fleet: Fleet | RemoteFleet
        if client_procs:
            fleet = RemoteFleet(client_procs)
            await fleet.start()
        else:
            fleet = Fleet()
        stack.push_async_callback(fleet.close_all)
        done = 0
        for step_no, n in enumerate(steps):
            ctx.section(f"commit → websocket frame: {n:,} consoles on {where} ({len(pids)} serving), "
                        f"{len(shops)} tenants ({n // len(shops):,} consoles each), consoles in {clients}")
            took = await fleet.connect_many(targets_for(shops, tokens, servers, done, n))
            ctx.log(f"connected {n - done:,} more consoles in {took:.1f} s; {len(fleet):,} open; "
                    f"server RSS {', '.join(f'{rss_kb(p) / 1024:.0f}' for p in pids)} MiB")
            done = n
            await quiet(fleet)
            for rate in rates:
                await one_cell(ctx, shops, fleet, pids, light, rate, seconds, max_frames, label=f" ({where})")
            if step_no == 0 and workers <= 1:
                await render_cost(ctx, shops)
            for rate in heavy_rates:
                await one_cell(ctx, shops, fleet, pids, HEAVY_EVENT, rate, seconds, max_frames,
                               label=f" (rendered, {where})")
        if fleet.close_codes:
            ctx.log(f"[yellow]sockets closed by the server during the runs: {dict(fleet.close_codes)}[/yellow]")


async def render_cost(ctx: BenchContext, shops: list[Shop], n: int = 50) -> None:
    """What one viewer's message of a rendered event costs: realtime.render.render for one user (the feed renders
    this once per audience, not per socket)."""
    import datetime as dt

    from app.accounts.services import Principal, create_session, resolve_session
    from app.lib.db import tenant_context
    from realtime.events import Event
    from realtime.render import render

    shop = shops[0]
    async with tenant_context(shop.ref):  # a Principal as the websocket's middleware builds it
        token, _ = await create_session(shop.users[-1])
        user = await resolve_session(token)
    assert isinstance(user, Principal), user
    conv = shop.conversations[0]
    event = Event(id=1, name=HEAVY_EVENT, tenant=shop.ref.slug, at=dt.datetime.now(dt.UTC),
                  data={"conversation_id": conv["id"], "queue_id": conv["queue_id"], "contact_id": 0},
                  channels=("queue",))
    times: list[float] = []
    size = 0
    for _ in range(n):
        t0 = time.perf_counter()
        size = len(await render(event, shop.ref, user))
        times.append((time.perf_counter() - t0) * 1000)
    p = percentiles(times, (50, 99))
    ctx.record(f"{HEAVY_EVENT} message for one viewer (all its renderers) p50 / p99", f"{p[50]:.1f} / {p[99]:.1f}", "ms",
               f"in this process, one at a time, {size:,} bytes of HTML; the server does this once per audience; "
               f"load average {load_avg()}")


async def quiet(fleet: Fleet | RemoteFleet, settle: float = 1.0, limit: float = 20.0) -> None:
    """Wait until no frame has arrived for `settle` seconds (presence announcements after connecting)."""
    deadline = time.monotonic() + limit
    last = -1
    while time.monotonic() < deadline:
        total = (await fleet.count())[1]
        if total == last:
            return
        last = total
        await asyncio.sleep(settle)


async def one_cell(ctx: BenchContext, shops: list[Shop], fleet: Fleet | RemoteFleet, pids: list[int], event: str,
                   rate: int, seconds: float, max_frames: int, label: str) -> None:
    per_tenant = dict(fleet.per_tenant)
    fanout = sum(per_tenant.values()) / len(shops)
    n = int(rate * seconds)
    shortened = ""
    if n * fanout > max_frames:
        n = int(max_frames / fanout)
        shortened = f"; shortened to {n / rate:.1f} s (BENCH_RT_MAX_FRAMES {max_frames:,})"
    n -= n % len(shops)
    n = max(n, len(shops))
    expected = sum(per_tenant.get(i % len(shops), 0) for i in range(n))
    await fleet.watch(watched(event))
    clients = getattr(fleet, "pids", [])
    la = load_avg()
    cpu0 = [cpu_seconds(p) for p in [*pids, *clients]]
    wait0 = [runq_wait(p) for p in [*pids, os.getpid()]]
    me0 = self_cpu()
    pg0 = postgres_cpu()
    sessions0 = await sessions_opened(ctx.dsn)
    t0 = time.perf_counter()
    pub = await publish_events(shops, event, rate, n)
    t_pub = time.perf_counter()
    # Drain: until every message arrived, or nothing arrived for BENCH_RT_IDLE_DRAIN (10) s, or 120 s passed (a
    # server starved of CPU by other work on the machine pauses for seconds: what is left is counted lost).
    last, last_change = -1, time.perf_counter()
    while True:
        got = (await fleet.count())[0]
        if got >= expected:
            break
        now = time.perf_counter()
        if got != last:
            last, last_change = got, now
        elif now - last_change > DRAIN_IDLE or now - t_pub > 120:
            break
        await asyncio.sleep(0.05)
    t_end = time.perf_counter()
    cpu = [cpu_seconds(p) - c for p, c in zip([*pids, *clients], cpu0, strict=True)]
    me = self_cpu() - me0
    pg = postgres_cpu() - pg0
    sessions = await sessions_opened(ctx.dsn) - sessions0 - 1
    waits = [runq_wait(p) - w for p, w in zip([*pids, os.getpid()], wait0, strict=True)]
    arrivals, frames, messages = await fleet.collect()
    lat = [(t - pub.commits[(ti, eid)]) * 1000 for ti, eid, t in arrivals if (ti, eid) in pub.commits]
    stray = len(arrivals) - len(lat)
    p = percentiles(lat, (50, 99))
    last_arrival = max((t for _, _, t in arrivals), default=t_pub)
    span = max(1e-6, last_arrival - t0)
    offered = n * fanout / max(1e-6, pub.seconds)
    delivered_rate = len(lat) / span
    cp = percentiles(pub.commit_ms, (50, 99))
    lost = max(0, expected - len(lat))
    name = f"{len(fleet):,} consoles @ {rate:,} ev/s{label}"
    what = f"{event} + conversation.* mix" if event == HEAVY_EVENT else event
    raw = RAW_P50.get(rate)
    floor = f"; raw Redis pub→sub p50 {raw:.2f} ms in this run ({p[50] / raw:,.0f}x)" if raw else ""
    target = ("; issue 15 target (p50 ≤ 50, p99 ≤ 250 ms) " + ("met" if p[50] <= TARGET[0] and p[99] <= TARGET[1]
                                                                else "NOT met")) if len(fleet) >= 2000 else ""
    ctx.record(f"{name}: commit→frame p50 / p99", f"{p[50]:.1f} / {p[99]:.1f}", "ms",
               f"{what}; {len(lat):,}/{expected:,} messages ({100 * len(lat) / max(1, expected):.1f}%)"
               f"{shortened}; max {max(lat, default=float('nan')):.0f} ms{floor}{target}",
               errors=pub.errors, lost=lost)
    wall = t_end - t0
    err = f"{pub.errors} errors" + (f" ({pub.first_error})" if pub.errors else "")
    server_cpu = "+".join(f"{c / wall * 100:.0f}" for c in cpu[:len(pids)])
    client_cpu = "+".join(f"{c / wall * 100:.0f}" for c in cpu[len(pids):]) or "in the bench process"
    server_wait = "+".join(f"{w / wall * 100:.0f}" for w in waits[:-1])
    ctx.record(f"  {name}: messages/s offered → delivered", f"{offered:,.0f} → {delivered_rate:,.0f}", "msg/s",
               f"{n:,} events published at {pub.rate:,.0f}/s (target {rate:,}) in {pub.seconds:.1f} s, publish call "
               f"incl. pool wait p50/p99 {cp[50]:.1f}/{cp[99]:.1f} ms, {err}; last frame "
               f"{last_arrival - t_pub:.1f} s after last publish; CPU used: server {server_cpu}%, console clients "
               f"{client_cpu}%, bench process {me / wall * 100:.0f}%, PostgreSQL {pg / wall * 100:.0f}% ({sessions} connections opened); waiting for a CPU (run queue): server "
               f"{server_wait}%, bench {waits[-1] / wall * 100:.0f}% of the wall time; load avg {la}"
               + (f"; {stray} stray" if stray else ""),
               errors=pub.errors, lost=lost)
    ctx.record(f"  {name}: websocket frames/s, messages per frame", f"{frames / span:,.0f}, "
               f"{messages / max(1, frames):.2f}", "frames/s",
               f"{frames:,} frames carried {messages:,} messages (the hub joins what queued while a socket's writer "
               f"was busy); lost {lost:,} messages", lost=lost)
    server_ms = sum(cpu[:len(pids)]) * 1000
    ctx.record(f"  {name}: server CPU per event", server_ms / max(1, n), "ms",
               f"{server_ms / max(1, len(lat)) * 1000:.0f} µs per delivered message; the CPU the server process(es) "
               f"used over the cell / events published: what the load on the machine does not change (a free 2-core "
               f"machine would top out near {2000 / max(1e-6, server_ms / max(1, n)):,.0f} events/s at this fan-out, "
               f"before the bench and PostgreSQL take their share); PostgreSQL CPU per event "
               f"{pg * 1000 / max(1, n):.2f} ms (its renders' reads and the publish)")
    await quiet(fleet, settle=0.5, limit=10)
