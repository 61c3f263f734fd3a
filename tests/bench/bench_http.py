"""Tenant-scoped HTTP on one process: `GET /me` and `GET /contacts/{id}` beside a bare Litestar app on the same SQL.

Both apps run under uvicorn with the same flags (one worker, no access log) on the same database and the same kind
of pool (asyncpg, DB_POOL_MAX); the load comes from `wrk` in its own process, one thread. The bare app
(tests/bench/bare_app.py) runs what the real handlers send to PostgreSQL: the tenant by slug, then one transaction
with `SET LOCAL search_path`, the API key ⨝ user row and, for a contact, its card. Each figure is followed by
real ÷ bare from the same run (target ≥ 0.6); bare and real alternate per endpoint, so load from other work on the
machine hits both alike (still: the absolute numbers move with it, the ratio less).

Sizes: BENCH_HTTP_TENANTS (10) shops in rotation, BENCH_HTTP_CONTACTS (5) contacts each, BENCH_CONCURRENCY (16)
wrk connections, BENCH_WARMUP (2) and BENCH_DURATION (10) seconds per run, BENCH_HTTP_ROUNDS (1) bare/real pairs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from tests.bench.harness import BenchContext, app_server, wrk_available, wrk_load

BARE = "tests.bench.bare_app:create_app"


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
    rounds = max(1, ctx.env_int("BENCH_HTTP_ROUNDS", 1))

    ctx.section(f"{n_shops} shops by signup, {n_contacts} contacts each through the API")
    shops = []
    for i in range(n_shops):
        result = await tenant_services.signup(f"HTTP shop {i}", f"http_{i:03d}", f"owner@http-{i}.example",
                                              "bench-password-" + secrets.token_hex(6), owner_name="Owner")
        shops.append(Shop(result.tenant.slug, result.api_key, []))

    async with app_server() as real, app_server(factory=BARE) as bare:
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
                b = await client.get(bare.base_url + path, headers=_auth(key))
                if a.status_code != 200 or b.status_code != 200 or a.json() != b.json():
                    raise RuntimeError(f"GET {path}: real {a.status_code} {a.text[:400]} / bare {b.status_code} "
                                       f"{b.text[:400]}")
            ctx.log(f"{len(me) + len(cards)} URLs answer the same JSON from the real and the bare app")

        for name, targets in (("GET /t/{slug}/api/v1/me", me), ("GET /t/{slug}/api/v1/contacts/{id}", cards)):
            ctx.section(f"{name}: wrk -t1 -c{connections}, {duration:.0f} s after {warmup:.0f} s warm-up, "
                        f"{len(targets)} URLs over {len(shops)} tenants")
            rates: dict[str, list[float]] = {"bare": [], "real": []}
            cpu: dict[str, list[float]] = {"bare": [], "real": []}
            for _ in range(rounds):
                for label, server in (("bare", bare), ("real", real)):
                    await wrk_load(server.base_url, targets, connections=connections, duration=warmup, warmup=0)
                    cpu0 = _cpu_seconds(server.process.pid)
                    w = await wrk_load(server.base_url, targets, connections=connections, duration=duration,
                                       warmup=0)
                    cpu_ms = (_cpu_seconds(server.process.pid) - cpu0) * 1000 / max(1, w.requests)
                    errors = w.non_2xx + w.socket_error_count
                    rates[label].append(w.rate)
                    cpu[label].append(cpu_ms)
                    what = "bare Litestar + asyncpg, same SQL" if label == "bare" else "the app"
                    ctx.record(f"{name} {label}", w.rate, "req/s",
                               f"{what}; p50 {w.p50_ms:.2f} ms, p99 {w.p99_ms:.2f} ms, {w.requests:,} requests, "
                               f"server CPU {cpu_ms:.2f} ms/request"
                               + (f"; {w.socket_errors}" if w.socket_errors else ""), errors=errors)
            ratio = _mean(rates["real"]) / _mean(rates["bare"]) if _mean(rates["bare"]) else 0.0
            ctx.record(f"{name} real ÷ bare", ratio, "x", "req/s; target ≥ 0.6, same run")
            cpu_ratio = _mean(cpu["bare"]) / _mean(cpu["real"]) if _mean(cpu["real"]) else 0.0
            ctx.record(f"{name} bare ÷ real server CPU per request", cpu_ratio, "x",
                       f"{_mean(cpu['bare']):.2f} vs {_mean(cpu['real']):.2f} ms of the server process per "
                       "request: what throughput would be with the CPU to itself (less moved by other work)")


def _auth(key: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {key}"}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
