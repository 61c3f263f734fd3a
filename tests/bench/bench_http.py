"""Tenant-scoped HTTP on one process: `GET /me` and `GET /contacts/{id}` beside a bare Litestar app on the same SQL.

Both apps run under uvicorn with the same flags (one worker, no access log) on the same database and the same kind
of pool (asyncpg, DB_POOL_MAX); the load comes from `wrk` in its own process, one thread. The bare app
(tests/bench/bare_app.py) runs what the real handlers send to PostgreSQL: the tenant by slug, then one transaction
with `SET LOCAL search_path`, the API key ⨝ user row and, for a contact, its card. Each figure is followed by
real ÷ bare from the same run (target ≥ 0.6): the median over back-to-back pairs, their order flipped each round, so
load from other work on the machine hits both alike (the absolute numbers move with it, the ratio less); and the
server's own CPU time per request of each, which moves least. A third server, the bare app with BARE_LEAN=1, sends
the same statements in the same round trips as the app does (see bare_app.py): real ÷ lean is the cost of the app's
own Python (middleware, auth, DTOs) alone.

Sizes: BENCH_HTTP_TENANTS (10) shops in rotation, BENCH_HTTP_CONTACTS (5) contacts each, BENCH_CONCURRENCY (16)
wrk connections, BENCH_WARMUP (2) and BENCH_DURATION (10) seconds per run, BENCH_HTTP_ROUNDS (3) bare/real pairs.
"""

from __future__ import annotations

import secrets
import statistics
from dataclasses import dataclass
from typing import Any

from tests.bench.harness import BenchContext, app_server, wrk_available, wrk_load

BARE = "tests.bench.bare_app:create_app"
WHAT = {"bare": "bare Litestar + asyncpg, same SQL, 6-7 round trips",
        "lean": "bare, same round trips as the app (BARE_LEAN=1)", "real": "the app"}


@dataclass
class Shop:
    slug: str
    api_key: str
    contact_ids: list[int]


async def main(ctx: BenchContext) -> None:
    import httpx

    from tenants import services as tenant_services

    if not wrk_available():
        ctx.log("wrk not installed (apt-get install -y wrk): nothing to measure")
        return
    n_shops = ctx.env_int("BENCH_HTTP_TENANTS", 10)
    n_contacts = ctx.env_int("BENCH_HTTP_CONTACTS", 5)
    connections = ctx.env_int("BENCH_CONCURRENCY", 16)
    warmup = float(ctx.env_int("BENCH_WARMUP", 2))
    duration = float(ctx.env_int("BENCH_DURATION", 10))
    rounds = max(1, ctx.env_int("BENCH_HTTP_ROUNDS", 3))

    ctx.section(f"{n_shops} shops by signup, {n_contacts} contacts each through the API")
    shops = []
    for i in range(n_shops):
        result = await tenant_services.signup(f"HTTP shop {i}", f"http_{i:03d}", f"owner@http-{i}.example",
                                              "bench-password-" + secrets.token_hex(6), owner_name="Owner")
        shops.append(Shop(result.tenant.slug, result.api_key, []))

    async with app_server() as real, app_server(factory=BARE) as bare, \
            app_server(factory=BARE, extra_env={"BARE_LEAN": "1"}) as lean:
        async with httpx.AsyncClient(timeout=10.0) as client:
            for shop in shops:
                for j in range(n_contacts):
                    resp = await client.post(
                        f"{real.base_url}/t/{shop.slug}/api/v1/contacts", headers=_auth(shop.api_key),
                        json={"name": f"Client {j} of {shop.slug}", "company": "Bench Ltd", "tags": ["vip", "b"],
                              "phones": [f"+1202555{j:04d}", f"+1202556{j:04d}"], "emails": [f"c{j}@x.example"],
                              "custom": {}})
                    if resp.status_code != 201:
                        raise RuntimeError(f"creating a contact answered {resp.status_code}: {resp.text[:300]}")
                    shop.contact_ids.append(resp.json()["id"])
            me = [(f"/t/{s.slug}/api/v1/me", s.api_key) for s in shops]
            cards = [(f"/t/{s.slug}/api/v1/contacts/{cid}", s.api_key) for s in shops for cid in s.contact_ids]
            # Same answers from both, or the comparison means nothing.
            for path, key in me + cards:
                a = await client.get(real.base_url + path, headers=_auth(key))
                for other in (bare, lean):
                    b = await client.get(other.base_url + path, headers=_auth(key))
                    if a.status_code != 200 or b.status_code != 200 or a.json() != b.json():
                        raise RuntimeError(f"GET {path}: real {a.status_code} {a.text[:400]} / bare "
                                           f"{b.status_code} {b.text[:400]}")
            ctx.log(f"{len(me) + len(cards)} URLs answer the same JSON from the real and the bare apps")

        for name, targets in (("GET /t/{slug}/api/v1/me", me), ("GET /t/{slug}/api/v1/contacts/{id}", cards)):
            ctx.section(f"{name}: wrk -t1 -c{connections}, {duration:.0f} s after {warmup:.0f} s warm-up, "
                        f"{len(targets)} URLs over {len(shops)} tenants")
            servers = [("bare", bare), ("lean", lean), ("real", real)]
            rates: dict[str, list[float]] = {label: [] for label, _ in servers}
            cpu: dict[str, list[float]] = {label: [] for label, _ in servers}
            for n in range(rounds):
                # Back to back, the order rotated every round: drift in the machine's load hits all three alike.
                for label, server in servers[n % 3:] + servers[:n % 3]:
                    await wrk_load(server.base_url, targets, connections=connections, duration=warmup, warmup=0)
                    cpu0 = _cpu_seconds(server.process.pid)
                    w = await wrk_load(server.base_url, targets, connections=connections, duration=duration,
                                       warmup=0)
                    cpu_ms = (_cpu_seconds(server.process.pid) - cpu0) * 1000 / max(1, w.requests)
                    errors = w.non_2xx + w.socket_error_count
                    rates[label].append(w.rate)
                    cpu[label].append(cpu_ms)
                    ctx.record(f"{name} {label}", w.rate, "req/s",
                               f"round {n + 1}: {WHAT[label]}; p50 {w.p50_ms:.2f} ms, p99 {w.p99_ms:.2f} ms, "
                               f"{w.requests:,} requests, server CPU {cpu_ms:.2f} ms/request"
                               + (f"; {w.socket_errors}" if w.socket_errors else ""), errors=errors)
            for base, goal in (("bare", "target ≥ 0.6"), ("lean", "the app's Python alone")):
                pairs = [r / b if b else 0.0 for r, b in zip(rates["real"], rates[base], strict=True)]
                ctx.record(f"{name} real ÷ {base}", statistics.median(pairs), "x",
                           f"median of {rounds} rounds ({', '.join(f'{r:.2f}' for r in pairs)}); mean req/s real "
                           f"{_mean(rates['real']):,.0f} / {base} {_mean(rates[base]):,.0f}; {goal}")
                ratio = _mean(cpu[base]) / _mean(cpu["real"]) if _mean(cpu["real"]) else 0.0
                ctx.record(f"{name} {base} ÷ real server CPU per request", ratio, "x",
                           f"{_mean(cpu[base]):.2f} vs {_mean(cpu['real']):.2f} ms of the server process per "
                           "request: the throughput ratio with a CPU to itself (moves less with other work)")


def _auth(key: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {key}"}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
