"""Web chat: 500 concurrent chats, visitor -> operator console -> visitor, from this (separate) process.

Set-up: one shop, BENCH_CHAT_OPERATORS operators with an open console socket each, BENCH_CHAT_SESSIONS visitors with
an open widget socket each, every chat taken by one operator. Then every chat runs BENCH_CHAT_ROUNDS rounds at once,
a random pause of up to BENCH_CHAT_THINK_MS between rounds (0 measures saturation): the visitor sends a message
over its widget socket (the server files it through the group-commit writer and answers "sent" after the commit);
when it shows up in the assigned operator's console (one pushed message), the operator answers through the API; the
round ends when the answer arrives in the visitor's widget socket. Timed from just before the visitor's send.
Messages/s count both messages of a round; the headline rate and round trip are those of the rounds that end while
at least 90% of the chats are running (the whole-run average is printed too, diluted by the first and last
seconds, when only a few chats are going).

Beside it, from the same run: the same rows written by raw asyncpg (a transaction per message, and grouped), a bare
uvicorn websocket echo under the same load, the statements one visitor message costs (counted in this process), the
database transactions per round during the load; the app with 1 and with 2 web processes (`switchboard run
--workers N`, Redis between them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import time
from typing import Any

from tests.bench.bench_realtime import runq_wait
from tests.bench.harness import REPO, BenchContext, app_server, free_port, percentiles
from tests.statements import statements_of

SITE = "https://bench-shop.example"
MARK_RE = re.compile(r"bm[0-9a-f]{12}")


STEADY = 0.9
"""The throughput figure counts the rounds that end while at least this share of the chats is running (started, not
yet done): the first and the last seconds of a run have only a few chats going, which a whole-run average dilutes."""


def steady_window(spans: list[list[float]], ends: list[tuple[float, float]]) -> tuple[float, list[float]] | None:
    """The window in which at least STEADY of the chats run (from when that many have sent their first message to
    when more than 1 - STEADY of them are done), and the round trips (ms) that ended in it; None when it is shorter
    than a second. `spans` are each chat's first send and last answer, `ends` each round's end and round trip, all
    on the machine's monotonic clock (the same in every process)."""
    if not spans:
        return None
    n = len(spans)
    k = max(1, int(n * STEADY + 0.999999))
    start = sorted(s for s, _ in spans)[k - 1]
    stop = sorted(e for _, e in spans)[n - k]
    if stop - start < 1.0:
        return None
    return stop - start, [ms for t, ms in ends if start <= t <= stop]


async def main(ctx: BenchContext) -> None:
    from tests.bench.bench_processes import switchboard_run

    n_chats = ctx.env_int("BENCH_CHAT_SESSIONS", 500)
    n_ops = ctx.env_int("BENCH_CHAT_OPERATORS", 50)
    rounds = ctx.env_int("BENCH_CHAT_ROUNDS", 10)
    think_ms = ctx.env_int("BENCH_CHAT_THINK_MS", 2000)
    workers = [int(w) for w in os.environ.get("BENCH_CHAT_WORKERS", "1,2").split(",") if w]
    limits = {"CHAT_SESSIONS_PER_MINUTE": "1000000", "CHAT_MESSAGES_PER_MINUTE": "1000000",
              "CHAT_REQUESTS_PER_MINUTE": "1000000", "AUTH_RATE_PER_MINUTE": "1000000",
              "API_RATE_PER_MINUTE": "1000000", "TENANT_API_RATE_PER_MINUTE": "1000000"}
    profile = os.environ.get("BENCH_CHAT_PROFILE")
    if profile:  # where the server's time goes: one process under cProfile (memory backend), stats to `profile`
        await profiled(ctx, profile, n_chats, n_ops, rounds, think_ms, limits)
        return
    if os.environ.get("BENCH_CHAT_BASELINES", "1") == "1":
        ctx.section(f"baselines: {n_chats} senders, pauses up to {think_ms / 1000:.1f} s")
        await raw_sql(ctx, n_chats, rounds)
        await bare_echo(ctx, n_chats, rounds, think_ms)
        await statements(ctx)
    layouts = [(n, False) for n in workers]
    if 1 in workers and os.environ.get("BENCH_CHAT_POST", "1") == "1":
        layouts.insert(workers.index(1) + 1, (1, True))  # the per-message path beside it, on a fresh server
    for n, via_post in layouts:
        ctx.section(f"{n_chats} chats, {n_ops} operators, {rounds} rounds each, {n} web process"
                    + ("es" if n > 1 else "") + (", visitor messages by POST (a transaction each)" if via_post else ""))
        async with switchboard_run(ctx, n, {"DATABASE_URL": ctx.dsn, **limits}) as base:
            await run(ctx, base, n_chats, n_ops, rounds, think_ms, label=f"{n}p" + (" POST" if via_post else ""),
                      via_post=via_post)


async def profiled(ctx: BenchContext, out: str, n_chats: int, n_ops: int, rounds: int, think_ms: int,
                   limits: dict[str, str]) -> None:
    import tempfile
    from pathlib import Path

    from tests.bench.harness import stop_child, wait_healthy

    port = free_port()
    env = {**os.environ, "DATABASE_URL": ctx.dsn, "EMBEDDED_WORKER": "false", "BASE_URL": f"http://127.0.0.1:{port}",
           **limits}
    log = tempfile.NamedTemporaryFile(prefix="sb-bench-prof-", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, "-m", "tests.bench.profile_server", out, str(port)], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(base, proc, lambda: Path(log.name).read_text()[-3000:], 120, "uvicorn")
        ctx.section(f"profiled: {n_chats} chats, stats in {out}")
        await run(ctx, base, n_chats, n_ops, rounds, think_ms, label="profiled")
        proc.send_signal(signal.SIGUSR1)
        await asyncio.sleep(3)
    finally:
        await stop_child(proc, log, 30)


# -- baselines -------------------------------------------------------------------------------------------------

async def _shop(name: str) -> Any:
    from tenants import services

    slug = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")[:30] + f"_{secrets.token_hex(3)}"
    return await services.signup(name, slug, f"owner@{slug.replace('_', '-')}.example",
                                 "bench-password-" + secrets.token_hex(6), owner_name="Owner")


async def raw_sql(ctx: BenchContext, n: int, rounds: int) -> None:
    """The rows one visitor message writes (its message, the session's last-seen, its event), by raw asyncpg on a pool
    of the app's size: one transaction per message from `n` concurrent senders, then grouped like the writer."""
    import asyncpg

    shop = await _shop("chat raw")
    schema = shop.tenant.schema
    pool = await asyncpg.create_pool(ctx.dsn, min_size=20, max_size=20)
    try:
        async with pool.acquire() as conn:
            await conn.execute(f'SET search_path TO "{schema}"')
            sessions = [r["id"] for r in await conn.fetch(
                "INSERT INTO chat_session (token_hash) SELECT md5(random()::text) || g FROM generate_series(1, $1) g "
                "RETURNING id", n)]
            await conn.execute("RESET search_path")

        async def one(session_id: int, k: int) -> None:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(f'SET LOCAL search_path TO "{schema}"')
                mid = await conn.fetchval("INSERT INTO chat_message (chat_session, direction, body, author_label) "
                                          "VALUES ($1, 'in', $2, 'Visitor') RETURNING id", session_id, f"raw {k}")
                await conn.execute("UPDATE chat_session SET last_seen_at = now() WHERE id = $1", session_id)
                await conn.execute("INSERT INTO event_log (name, data, channels) VALUES ('chat.message', $1::jsonb, "
                                   "$2::varchar[])", json.dumps({"session_id": session_id, "message_id": mid}),
                                   [f"chat:{session_id}"])

        async def sender(session_id: int) -> None:
            for k in range(rounds):
                await one(session_id, k)

        t = time.perf_counter()
        await asyncio.gather(*(sender(s) for s in sessions))
        alone = n * rounds / (time.perf_counter() - t)
        ctx.record("raw asyncpg, a transaction per message", alone, "msg/s",
                   f"{n * rounds} messages from {n} concurrent senders, pool of 20")

        async def grouped(batch: list[int], k: int) -> None:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(f'SET LOCAL search_path TO "{schema}"')
                ids = await conn.fetch(
                    "INSERT INTO chat_message (chat_session, direction, body, author_label) SELECT s, 'in', b, "
                    "'Visitor' FROM unnest($1::int[], $2::text[]) AS u(s, b) RETURNING id, chat_session", batch,
                    [f"raw {k}"] * len(batch))
                await conn.execute("UPDATE chat_session SET last_seen_at = now() WHERE id = ANY($1::int[])", batch)
                await conn.execute("INSERT INTO event_log (name, data, channels) SELECT 'chat.message', d::jsonb, "
                                   "ARRAY['chat:' || s]::varchar[] FROM unnest($1::text[], $2::int[]) AS u(d, s)",
                                   [json.dumps({"message_id": r["id"]}) for r in ids], [r["chat_session"] for r in ids])

        size = 50
        t = time.perf_counter()
        for k in range(rounds):
            await asyncio.gather(*(grouped(sessions[i:i + size], k) for i in range(0, n, size)))
        ctx.record("raw asyncpg, grouped 50 per transaction", n * rounds / (time.perf_counter() - t), "msg/s",
                   "the same rows in multi-row statements (what the writer does)")
    finally:
        await pool.close()


async def bare_echo(ctx: BenchContext, n: int, rounds: int, think_ms: int) -> None:
    """`n` sockets on a bare uvicorn echo (tests/bench/bare_ws.py `echo`), each sending `rounds` messages with the
    same pauses and waiting for each echo: the floor of a websocket round trip here."""
    from websockets.asyncio.client import connect

    socks: list[Any] = []
    async with app_server(factory="tests.bench.bare_ws:echo") as server:
        url = server.base_url.replace("http", "ws", 1) + "/"
        try:
            for _ in range(n):
                socks.append(await connect(url, ping_interval=None, close_timeout=1, open_timeout=60))
            samples: list[float] = []

            async def talk(ws: Any) -> None:
                await asyncio.sleep(random.random() * think_ms / 1000)
                for k in range(rounds):
                    t = time.perf_counter()
                    await ws.send(json.dumps({"send": f"echo {k}", "ref": k}))
                    await ws.recv()
                    samples.append((time.perf_counter() - t) * 1000)
                    await asyncio.sleep(random.random() * think_ms / 1000)

            t = time.perf_counter()
            await asyncio.gather(*(talk(ws) for ws in socks))
            elapsed = time.perf_counter() - t
            p = percentiles(samples, (50, 99))
            ctx.record("bare websocket echo round trip p50 / p99", f"{p[50]:.1f} / {p[99]:.1f}", "ms",
                       f"{len(samples)} messages in {elapsed:.1f} s ({len(samples) / elapsed:.0f} msg/s, the pauses "
                       f"bound it), {n} sockets")
        finally:
            for ws in socks:
                with contextlib.suppress(Exception):
                    await ws.close()


async def statements(ctx: BenchContext) -> None:
    """Statements one visitor message sends to PostgreSQL: alone (the HTTP path, a unit of work each) and through the
    writer in batches of 1, 10 and 100 (counted with asyncpg's query logger in this process; BEGIN and COMMIT not
    counted)."""
    from app.chat import services
    from app.lib.db import tenant_context

    shop = await _shop("chat statements")
    async with tenant_context(shop.tenant):
        sessions = [(await services.start_session())["session_id"] for _ in range(100)]
        for sid in sessions:
            await services.visitor_message(sid, "first")

    async def count(work: Any) -> int:
        async with tenant_context(shop.tenant) as uow:
            with statements_of(uow.connection) as seen:
                await work()
        return len(seen)

    alone = await count(lambda: services.visitor_message(sessions[0], "alone"))
    parts = [f"alone {alone}"]
    for size in (1, 10, 100):
        n = await count(lambda size=size: services.visitor_messages([(s, "grouped") for s in sessions[:size]]))
        parts.append(f"batch of {size}: {n / size:.2f}")
    ctx.record("statements per visitor message", round(
        await count(lambda: services.visitor_messages([(s, "grouped") for s in sessions])) / len(sessions), 2),
        "", "; ".join(parts) + " (+ BEGIN/SET LOCAL and COMMIT per transaction)")


# -- the app ---------------------------------------------------------------------------------------------------

def _descendants() -> list[int]:
    """This process's descendants (the web server: `switchboard run`'s supervisor and its workers)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
    found, todo = [], [os.getpid()]
    while todo:
        pid = todo.pop()
        kids = [c for c, p in parents.items() if p == pid]
        found += kids
        todo += kids
    return found


def _cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) of each of `pids` so far."""
    out = {}
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


class _Fleet:
    """One client process (tests/bench/chat_fleet.py): JSON commands in, JSON answers out."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, connect: dict[str, Any]) -> _Fleet:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.bench.chat_fleet", cwd=REPO,
                                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, limit=2**26)
        fleet = cls(proc)
        await fleet.ask(connect)
        return fleet

    async def ask(self, cmd: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"chat fleet exited ({self.proc.returncode}) on {cmd['op']}")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"chat fleet: {answer['error']}")
        return answer

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ask({"op": "close"}), 30)
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()


async def run(ctx: BenchContext, base: str, n_chats: int, n_ops: int, rounds: int, think_ms: int,
              label: str, via_post: bool = False) -> None:
    import asyncpg
    import httpx

    from app.accounts.services import create_session
    from app.accounts.tables import User
    from app.lib.db import tenant_context

    shop = await _shop(f"chat bench {label}")
    slug = shop.tenant.slug
    auth = {"Authorization": f"Bearer {shop.api_key}"}
    api = f"{base}/t/{slug}/api/v1"
    ws_base = base.replace("http://", "ws://")
    ops: list[tuple[int, str]] = []
    async with tenant_context(shop.tenant):
        for i in range(n_ops):
            rows = await User.insert(User(email=f"op{i}@{slug.replace('_', '-')}.example", name=f"Operator {i}",
                                          role="operator")).returning(User.id)
            token, _ = await create_session(int(rows[0]["id"]))
            ops.append((int(rows[0]["id"]), token))

    # Shorter than uvicorn's 5 s keep-alive, so the client never reuses a connection the server is closing.
    http_limits = httpx.Limits(max_connections=200, max_keepalive_connections=200, keepalive_expiry=2.0)
    async with httpx.AsyncClient(timeout=60, limits=http_limits) as client:
        resp = await client.put(f"{api}/chat/settings", json={"allowed_origins": [SITE]}, headers=auth)
        assert resp.status_code == 200, resp.text
        visitor_h = {"Origin": SITE}

        async def new_chat(i: int) -> dict[str, Any]:
            s = (await client.post(f"{base}/t/{slug}/chat/sessions", json={}, headers=visitor_h)).json()
            r = await client.post(f"{base}/t/{slug}/chat/messages", json={"body": f"hello {i}"},
                                  headers={**visitor_h, "X-Chat-Token": s["token"]})
            assert r.status_code == 201, r.text
            return {"token": s["token"], "session_id": s["session_id"]}

        t_setup = time.perf_counter()
        chats: list[dict[str, Any]] = []
        for start in range(0, n_chats, 50):
            chats += await asyncio.gather(*(new_chat(i) for i in range(start, min(n_chats, start + 50))))
        # Assign chats round-robin, as operators taking them from the queue would.
        async with tenant_context(shop.tenant) as uow:
            for n, chat in enumerate(chats):
                chat["operator"] = ops[n % n_ops][0]
                chat["conversation_id"] = await uow.connection.fetchval(
                    "UPDATE conversation c SET status = 'active', assigned_to = $1, taken_at = now() "
                    "FROM chat_session s "
                    "WHERE s.id = $2 AND c.id = s.conversation RETURNING c.id", chat["operator"], chat["session_id"])

        # The visitors and operators run in client processes of their own (tests/bench/chat_fleet.py), each with
        # a share of the operators and their chats: the server's CPU is not the clients'.
        n_procs = max(1, min(ctx.env_int("BENCH_CHAT_CLIENT_PROCS", 1), n_ops))
        fleets = []
        for k in range(n_procs):
            mine = {op for j, (op, _) in enumerate(ops) if j % n_procs == k}
            fleets.append(await _Fleet.start({
                "op": "connect", "base": base, "ws_base": ws_base, "slug": slug, "site": SITE, "api": api,
                "api_key": shop.api_key, "via_post": via_post,
                "operator_tokens": [t for j, (_, t) in enumerate(ops) if j % n_procs == k],
                "chats": [{"token": c["token"], "conversation_id": c["conversation_id"]} for c in chats
                          if c["operator"] in mine]}))
        stack = contextlib.AsyncExitStack()
        for fleet in fleets:
            stack.push_async_callback(fleet.close)
        async with stack:
            ctx.record(f"[{label}] chats set up", len(chats), "", f"sessions, first messages, {n_ops} console "
                       f"and {len(chats)} widget sockets in {time.perf_counter() - t_setup:.1f} s, "
                       f"{n_procs} client process(es)")
            # Baseline: one chat alone, nothing else going on.
            alone = await fleets[0].ask({"op": "alone", "rounds": 10})
            pb = percentiles(alone["round"], (50, 99))
            ctx.record(f"[{label}] one chat alone: round trip p50 / p99", f"{pb[50]:.1f} / {pb[99]:.1f}", "ms",
                       f"{len(alone['round'])} rounds, no other traffic", lost=alone["lost"], errors=alone["errors"])

            admin = await asyncpg.connect(ctx.dsn)
            stack.push_async_callback(admin.close)
            xacts = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
            x0 = await admin.fetchval(xacts)
            load0 = os.getloadavg()[0]
            server_pids = [p for p in _descendants() if p not in {f.proc.pid for f in fleets}]
            cpu0 = _cpu(server_pids)
            wait0 = {p: runq_wait(p) for p in server_pids}
            t_run = time.perf_counter()
            results = await asyncio.gather(*(f.ask({"op": "run", "rounds": rounds, "think_ms": think_ms})
                                             for f in fleets))
            elapsed = time.perf_counter() - t_run
            cpu1 = _cpu(server_pids)
            waited = sum(runq_wait(p) - w for p, w in wait0.items())
            await asyncio.sleep(0.6)  # pg_stat_database is updated about every 500 ms
            x1 = await admin.fetchval(xacts)
        round_ms = [x for r in results for x in r["round"]]
        ack_ms = [x for r in results for x in r["ack"]]
        leg1_ms = [x for r in results for x in r["leg1"]]
        leg2_ms = [x for r in results for x in r["leg2"]]
        lost = sum(r["lost"] for r in results)
        errors = sum(r["errors"] for r in results)
        kinds: dict[str, int] = {}
        for r in results:
            for k, v in r["kinds"].items():
                kinds[k] = kinds.get(k, 0) + v
        client_cpu = sum(r["cpu"] for r in results)
        done = len(round_ms)
        pr, pa = percentiles(round_ms, (50, 99)), percentiles(ack_ms, (50, 99))
        p1, p2 = percentiles(leg1_ms, (50, 99)), percentiles(leg2_ms, (50, 99))
        load = f"load {load0:.2f} -> {os.getloadavg()[0]:.2f}"
        ctx.record(f"[{label}] messages/s (visitor + operator), whole run", 2 * done / elapsed, "msg/s",
                   f"{done} rounds in {elapsed:.1f} s, pauses up to {think_ms / 1000:.1f} s; {load} (the first and "
                   f"last chats run with few others: see the figure while all run)", lost=lost, errors=errors)
        steady = steady_window([s for r in results for s in r["spans"]],
                               [(e, ms) for r in results for e, ms in zip(r["ends"], r["round"], strict=True)])
        if steady is None:
            ctx.log(f"[{label}] too few rounds for a window with {STEADY:.0%} of the chats running: raise "
                     "BENCH_CHAT_ROUNDS")
        else:
            width, in_window = steady
            ps = percentiles(in_window, (50, 99))
            ctx.record(f"[{label}] messages/s while {STEADY:.0%}+ of the {n_chats} chats run", 2 * len(in_window) / width,
                       "msg/s", f"{len(in_window)} rounds ended in those {width:.1f} s; issue 15 target >= 500",
                       lost=lost, errors=errors)
            ctx.record(f"[{label}]   round trip p50 / p99 in that window", f"{ps[50]:.0f} / {ps[99]:.0f}", "ms",
                       "issue 15 target p99 <= 200 ms at >= 500 msg/s", lost=lost, errors=errors)
        ctx.record(f"[{label}] round trip visitor -> operator -> visitor p50 / p99, whole run",
                   f"{pr[50]:.0f} / {pr[99]:.0f}", "ms", lost=lost, errors=errors)
        ctx.record(f"[{label}]   visitor send -> 'sent' (committed) p50 / p99", f"{pa[50]:.1f} / {pa[99]:.1f}", "ms")
        ctx.record(f"[{label}]   visitor send -> operator console p50 / p99", f"{p1[50]:.1f} / {p1[99]:.1f}", "ms")
        ctx.record(f"[{label}]   operator reply POST -> widget p50 / p99", f"{p2[50]:.1f} / {p2[99]:.1f}", "ms")
        server_cpu = sum(cpu1.get(p, c) - c for p, c in cpu0.items())
        ctx.record(f"[{label}]   server CPU per round", round(server_cpu * 1000 / max(1, done), 2), "ms",
                   f"web process(es) {server_cpu:.1f} s = {server_cpu / elapsed * 100:.0f}% of a core; the "
                   f"clients (own processes) {client_cpu * 1000 / max(1, done):.2f} ms per round = "
                   f"{client_cpu / elapsed * 100:.0f}% (CPU per round moves least with the machine's load); the web "
                   f"process(es) waited for a CPU (run queue) {waited / elapsed * 100:.0f}% of the wall time "
                   f"(each process's event loop stands still meanwhile: more processes than cores show here)")
        ctx.record(f"[{label}]   database transactions per message", round((x1 - x0) / max(1, 2 * done), 2), "",
                   "every transaction of the database during the load (requests, renders, syncs, the writer's)")
        ctx.record(f"[{label}]   errors / rounds lost (no answer within 30 s)", f"{errors} / {lost}", "",
                   ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())), lost=lost, errors=errors)
