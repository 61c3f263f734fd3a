"""Telephony: signed webhook acknowledgement p50/p99 at 200 and 1,000 requests/s, and inbound call -> caller's card on a
connected console (p95), against the real app under uvicorn on loopback.

Sizes: BENCH_TEL_SECONDS (5) per rate, BENCH_TEL_CALLS (40) calls for the console latency."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import asyncpg
import httpx
from twilio.request_validator import RequestValidator

from tests.bench.harness import BenchContext, app_server, percentiles

CUSTOMER_PREFIX = "+1415555"
IN_FLIGHT = 64


async def _shop(ctx: BenchContext, slug: str) -> tuple[Any, int, str, str]:
    """A shop connected to a (simulated) Twilio account: tenant, owner id, account sid, auth token."""
    from app.accounts.services import Principal
    from app.lib.db import tenant_context
    from telephony import config
    from tenants import services as tenants

    result = await tenants.signup(f"Bench {slug}", slug, f"owner@{slug.replace('_', '-')}.example",
                                  "bench owner passphrase", owner_name="Owner")
    sid, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
    async with tenant_context(result.tenant):
        actor = Principal(user_id=result.user_id, email="owner@bench.example", name="Owner", role="owner",
                          via="session", credential_id=0)
        await config.save(actor, {"account_sid": sid, "auth_token": token, "numbers": ["+14155550100"]})
    return result.tenant, result.user_id, sid, token


def _voice(url: str, sid: str, token: str, caller: str) -> tuple[dict[str, str], dict[str, str]]:
    params = {"CallSid": "CA" + secrets.token_hex(16), "AccountSid": sid, "From": caller, "To": "+14155550100",
              "Caller": caller, "Called": "+14155550100", "CallStatus": "ringing", "Direction": "inbound",
              "ApiVersion": "2010-04-01", "FromCountry": "US", "ToCountry": "US"}
    return params, {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


async def _open_loop(client: httpx.AsyncClient, url: str, requests: list[tuple[dict[str, str], dict[str, str]]],
                     rate: int) -> tuple[list[float], int, float]:
    """Send each request at its scheduled time (open loop); latency counts from the scheduled time, so a client
    that falls behind shows up in the figures instead of hiding it."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    latencies: list[float] = []
    errors = 0
    # At most IN_FLIGHT requests on the wire: httpx's pool degrades badly with thousands of waiters, which would
    # measure the client instead of the server. Waiting for a slot still counts (from the scheduled time).
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one(i: int, params: dict[str, str], headers: dict[str, str]) -> None:
        nonlocal errors
        at = start + i / rate
        await asyncio.sleep(max(0.0, at - loop.time()))
        try:
            async with slots:
                r = await client.post(url, data=params, headers=headers)
            ok = r.status_code == 200 and "<Response>" in r.text
        except httpx.HTTPError:
            ok = False
        if ok:
            latencies.append((loop.time() - at) * 1000)
        else:
            errors += 1

    await asyncio.gather(*(one(i, p, h) for i, (p, h) in enumerate(requests)))
    return latencies, errors, loop.time() - start


async def bench_ack(ctx: BenchContext) -> None:
    seconds = ctx.env_int("BENCH_TEL_SECONDS", 5)
    tenant, _, sid, token = await _shop(ctx, "tel_ack")
    async with app_server() as server:
        url = f"{server.base_url}/t/{tenant.slug}/webhooks/twilio/voice"
        limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
        async with httpx.AsyncClient(timeout=30, limits=limits, trust_env=False) as client:
            warm = [_voice(url, sid, token, f"{CUSTOMER_PREFIX}{i % 10000:04d}") for i in range(200)]
            await _open_loop(client, url, warm, 100)
            sent_ok = len(warm)
            for rate in (200, 1000):
                ctx.section(f"signed voice webhook acknowledged at {rate} requests/s")
                batch = [_voice(url, sid, token, f"{CUSTOMER_PREFIX}{i % 10000:04d}") for i in range(rate * seconds)]
                latencies, errors, took = await _open_loop(client, url, batch, rate)
                sent_ok += len(latencies)
                p = percentiles(latencies, (50, 99))
                ctx.record(f"webhook ack p50 @ {rate}/s", p[50], "ms", f"{len(batch):,} signed POSTs in {took:.1f} s",
                           errors=errors)
                ctx.record(f"webhook ack p99 @ {rate}/s", p[99], "ms", f"{errors} errors, achieved "
                           f"{len(latencies) / took:,.0f}/s", errors=errors)
    conn = await asyncpg.connect(ctx.dsn)
    try:
        stored = await conn.fetchval(
            f'SELECT count(*) FROM "{tenant.schema}".twilio_webhook WHERE kind = \'voice\'')
        jobs = await conn.fetchval(
            "SELECT count(*) FROM public.pgqueuer WHERE entrypoint = 'telephony.process_webhook'")
        await conn.execute("DELETE FROM public.pgqueuer")  # the worker-less run left them; the next part starts clean
    finally:
        await conn.close()
    ctx.record("raw webhooks stored", stored, "rows", f"{sent_ok:,} answered 200 (each stored with its job before "
               f"the answer: {jobs:,} jobs queued)")
    if stored != sent_ok or jobs != sent_ok:
        raise AssertionError(f"{sent_ok} webhooks acknowledged but {stored} stored and {jobs} jobs queued")


async def bench_card(ctx: BenchContext) -> None:
    from app.accounts.services import create_session
    from app.lib.db import tenant_context
    from tests.servers import ConsoleSocket

    n = ctx.env_int("BENCH_TEL_CALLS", 40)
    ctx.section(f"inbound call webhook -> caller's card on a connected console ({n} calls, one at a time)")
    tenant, user_id, sid, token = await _shop(ctx, "tel_card")
    async with tenant_context(tenant):
        session, _ = await create_session(user_id)
    async with app_server({"EMBEDDED_WORKER": "true"}) as server:
        url = f"{server.base_url}/t/{tenant.slug}/webhooks/twilio/voice"
        sock = await ConsoleSocket.open(server.base_url.replace("http://", "ws://"), tenant.slug, session,
                                        server.base_url)
        await sock.ready(10)
        latencies: list[float] = []
        async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
            for i in range(n):
                caller = f"{CUSTOMER_PREFIX}{5000 + i:04d}"
                params, headers = _voice(url, sid, token, caller)
                t0 = time.perf_counter()
                r = await client.post(url, data=params, headers=headers)
                assert r.status_code == 200, r.text
                tail = f"555-{5000 + i:04d}"
                await sock.until(lambda f, tail=tail: 'data-testid="caller-card-link"' in f.text and tail in f.text,
                                 wait=15)
                latencies.append((time.perf_counter() - t0) * 1000)
                await asyncio.sleep(0.05)
        await sock.close()
    p = percentiles(latencies, (50, 95, 99))
    ctx.record("call webhook -> caller's card p50", p[50], "ms", "job worker in the web process, memory fan-out")
    ctx.record("call webhook -> caller's card p95", p[95], "ms", f"{n} calls; max {max(latencies):.0f} ms")


async def main(ctx: BenchContext) -> None:
    await bench_ack(ctx)
    await bench_card(ctx)
