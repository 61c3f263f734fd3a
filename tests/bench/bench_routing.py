"""Routing: one routing decision (claim the best waiting item, lock the candidates, choose, store the decision and the
offer, queue its timeout, emit) with 1,000 waiting items and 200 available agents, p50/p99, beside a raw asyncpg
baseline running the same `SELECT ... FOR UPDATE SKIP LOCKED` claim alone; then item created (POST) → offer frame on
the agent's console socket, p50/p99, through the real app with its embedded worker (durable listener → route job →
live render).

Sizes: BENCH_ROUTING_ITEMS (1000), BENCH_ROUTING_AGENTS (200), BENCH_ROUTING_DECISIONS (300),
BENCH_ROUTING_FRAMES (40)."""

from __future__ import annotations

import secrets
import time
from typing import Any

import asyncpg
import httpx

from tests.bench.harness import BenchContext, app_server, percentiles


async def _seed(ctx: BenchContext, slug: str, n_agents: int, n_items: int, strategy: str) -> tuple[Any, int, Any]:
    from app.accounts.tables import User
    from app.agents import state
    from app.lib.db import tenant_context
    from tenants import services

    shop = await services.signup(f"Routing {slug}", slug, f"owner@{slug.replace('_', '-')}.example",
                                 "bench-password-" + secrets.token_hex(6), owner_name="Owner")
    t0 = time.perf_counter()
    async with tenant_context(shop.tenant) as uow:
        conn = uow.connection
        ids = [r["id"] for r in await User.insert(*[
            User(email=f"a{i}@{slug.replace('_', '-')}.example", name=f"Agent {i}", role="operator")
            for i in range(n_agents)]).returning(User.id)]
        await conn.executemany('INSERT INTO agent_capacity ("user", channel, slots) VALUES ($1, \'chat\', 100)',
                               [(i,) for i in ids])
        for user_id in ids:
            await state.set_state(user_id, "available")
        queue_id = await conn.fetchval("SELECT id FROM queue WHERE key = 'general'")
        await conn.execute(
            "INSERT INTO conversation (channel, queue, status, subject, from_address, created_at, priority) "
            "SELECT 'chat', $1, 'waiting', 'bench ' || g, 'v' || g, now() - g * interval '1 second', g % 3 "
            "FROM generate_series(1, $2) g", queue_id, n_items)
        await conn.execute("INSERT INTO queue_routing (queue, strategy, offer_timeout) VALUES ($1, $2, 600)",
                           queue_id, strategy)
    ctx.log(f"{n_agents} agents, {n_items} waiting items seeded in {time.perf_counter() - t0:.1f} s (not timed)")
    return shop, queue_id, ids


async def bench_decisions(ctx: BenchContext) -> None:
    from app.lib.db import tenant_context
    from app.routing import services

    n_items = ctx.env_int("BENCH_ROUTING_ITEMS", 1000)
    n_agents = ctx.env_int("BENCH_ROUTING_AGENTS", 200)
    n = ctx.env_int("BENCH_ROUTING_DECISIONS", 300)
    # The raw floor, sampled in turn with the app's decisions (so both see the same load on a shared machine): the
    # same claim (the router's own SQL) in a transaction, nothing else, on a plain asyncpg connection.
    conn = await asyncpg.connect(ctx.dsn)
    raw: list[float] = []
    try:
        for strategy in ("round_robin", "least_busy"):
            ctx.section(f"one decision, {strategy}: {n_items} waiting items, {n_agents} available agents, {n} samples")
            shop, queue_id, _ = await _seed(ctx, f"rt_{strategy[:5]}", n_agents, n_items, strategy)
            await conn.execute(f'SET search_path TO "{shop.tenant.schema}"')
            samples: list[float] = []
            errors = 0
            for _ in range(n):
                t0 = time.perf_counter()
                async with tenant_context(shop.tenant):
                    made = await services.route(queue_id, limit=1)
                samples.append((time.perf_counter() - t0) * 1000)
                errors += 0 if len(made) == 1 else 1
                t0 = time.perf_counter()
                async with conn.transaction():
                    rows = await conn.fetch(services._ITEMS, queue_id, 1)
                raw.append((time.perf_counter() - t0) * 1000)
                errors += 0 if rows else 1
            p = percentiles(samples, (50, 99))
            ctx.record(f"{strategy} decision p50", p[50], "ms", f"{n} decisions", errors=errors)
            ctx.record(f"{strategy} decision p99", p[99], "ms", errors=errors)
    finally:
        await conn.close()
    p = percentiles(raw, (50, 99))
    ctx.record("raw claim p50 (asyncpg)", p[50], "ms", "the SELECT ... FOR UPDATE SKIP LOCKED alone, in turn")
    ctx.record("raw claim p99 (asyncpg)", p[99], "ms")


async def bench_frames(ctx: BenchContext) -> None:
    from app.accounts.services import _insert_api_key, create_session
    from app.agents import state
    from app.lib.db import tenant_context
    from tenants import services
    from tests.servers import ConsoleSocket

    n = ctx.env_int("BENCH_ROUTING_FRAMES", 40)
    ctx.section(f"item created → offer frame on the agent's console, {n} items one after another")
    shop = await services.signup("Routing frames", "rt_frames", "owner@rt-frames.example",
                                 "bench-password-" + secrets.token_hex(6), owner_name="Owner")
    async with tenant_context(shop.tenant) as uow:
        await uow.connection.execute('INSERT INTO agent_capacity ("user", channel, slots) VALUES ($1, \'chat\', 100)',
                                     shop.user_id)
        await state.set_state(shop.user_id, "available")
        await uow.connection.execute(
            "INSERT INTO queue_routing (queue, strategy, offer_timeout) "
            "SELECT id, 'round_robin', 600 FROM queue WHERE key = 'general'")
        token, _ = await create_session(shop.user_id)
        _, agent_key = await _insert_api_key(shop.user_id, "bench agent")
    auth = {"Authorization": f"Bearer {shop.api_key}"}
    agent = {"Authorization": f"Bearer {agent_key}"}
    samples: list[float] = []
    lost = errors = 0
    async with app_server({"EMBEDDED_WORKER": "true"}) as server:
        ws_url = server.base_url.replace("http://", "ws://")
        sock = await ConsoleSocket.open(ws_url, "rt_frames", token, server.base_url)
        await sock.ready()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            for i in range(n):
                t0 = time.perf_counter()
                resp = await client.post("/t/rt_frames/api/v1/conversations", headers=auth,
                                         json={"channel": "chat", "subject": f"frame {i}", "from_address": f"v{i}"})
                if resp.status_code != 201:
                    errors += 1
                    continue
                marker = f'data-conversation-id="{resp.json()["id"]}"'
                try:
                    await sock.until(lambda f, m=marker: f.event == "routing.offered" and m in f.text, wait=20)
                except TimeoutError:
                    lost += 1
                    ctx.log(f"item {i}: no offer frame within 20 s")
                    continue
                samples.append((time.perf_counter() - t0) * 1000)
                offers = (await client.get("/t/rt_frames/api/v1/offers", headers=agent)).json()
                for offer in offers:  # the agent takes it, so the panel stays one offer long
                    await client.post(f"/t/rt_frames/api/v1/offers/{offer['id']}/accept", headers=agent)
        await sock.ws.close()
    p = percentiles(samples, (50, 99))
    ctx.record("item → offer frame p50", p[50], "ms", f"{len(samples)} items", errors=errors, lost=lost)
    ctx.record("item → offer frame p99", p[99], "ms", errors=errors, lost=lost)


async def main(ctx: BenchContext) -> None:
    from app import events_catalogue  # noqa: F401  (every domain declares its events, as the app does)
    from app import jobs as _jobs  # noqa: F401  (the job registry: an offer enqueues its timeout)

    await bench_decisions(ctx)
    await bench_frames(ctx)
