"""Outbound webhook deliveries/s to a local receiver (another process on loopback), beside a raw baseline: plain
httpx POSTs of the same bodies to the same receiver at the same concurrency.

A delivery here is the whole path: the committed event read by the fan-out listener, the delivery row and its job,
the job's two short units of work (read, record the attempt), the address check, the signed POST and its answer.
The events are written first; the clock runs from starting the worker and the listeners to the last delivery
recorded as succeeded.

Sizes: BENCH_WEBHOOK_EVENTS (2000), BENCH_WEBHOOK_WORKERS (1 job worker; each runs up to 10 jobs at once)."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time

import asyncpg
import httpx

from tests.bench.harness import REPO, BenchContext, free_port, percentiles


async def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError("the receiver exited")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise TimeoutError("the receiver did not start")


async def main(ctx: BenchContext) -> None:
    from app import jobs as _jobs  # noqa: F401  (hands the job registry to the Worker, as app.cli does)
    from app.accounts.services import Principal
    from app.contacts.events import CONTACT_CREATED
    from app.lib.db import tenant_context
    from app.lib.jobs import Worker
    from app.listeners import DURABLE
    from app.webhooks_out import services, signing
    from realtime.durable import Spine
    from realtime.publish import emit
    from tenants import services as tenants

    count = ctx.env_int("BENCH_WEBHOOK_EVENTS", 2000)
    workers = ctx.env_int("BENCH_WEBHOOK_WORKERS", 1)
    concurrency = 10 * workers  # PgQueuer hands a worker batches of 10 jobs, run at once
    slug = f"hooks_{secrets.token_hex(3)}"
    shop = await tenants.signup("Bench webhooks shop", slug, f"owner@{slug.replace('_', '-')}.example",
                                "bench owner passphrase", owner_name="Owner")
    tenant = shop.tenant
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.bench.webhook_receiver", str(port)], cwd=REPO,
                            env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await _wait_port(port, proc)
        url = f"http://127.0.0.1:{port}/hooks"
        owner = Principal(user_id=shop.user_id, email="owner@bench", name="Owner", role="owner", via="session",
                          credential_id=0)
        async with tenant_context(tenant):
            endpoint = await services.create(owner, url=url, events=["contact.created"])
        for start in range(0, count, 100):
            async with tenant_context(tenant):
                for n in range(start, min(count, start + 100)):
                    await emit(CONTACT_CREATED, contact_id=n + 1)

        ctx.section(f"{count} events to one endpoint, {workers} job worker(s)")
        schema = tenant.schema
        conn = await asyncpg.connect(ctx.dsn)
        worker_pool = [Worker(ctx.dsn, poll_seconds=0.2) for _ in range(workers)]
        spine = Spine(ctx.dsn, DURABLE)
        started = time.perf_counter()
        await spine.start()
        for worker in worker_pool:
            await worker.start()
        try:
            while True:
                done = await conn.fetchval(
                    f'SELECT count(*) FROM "{schema}".webhook_delivery WHERE status <> \'pending\'')
                if done >= count:
                    break
                if time.perf_counter() - started > 600:
                    raise RuntimeError(f"only {done} of {count} deliveries finished after 10 minutes")
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
        finally:
            for worker in worker_pool:
                await worker.stop()
            await spine.stop()
        stats = await conn.fetchrow(
            f"SELECT count(*) FILTER (WHERE status = 'succeeded') AS ok, count(*) FILTER (WHERE status = 'failed') "
            f"AS failed, sum(attempts) AS attempts FROM \"{schema}\".webhook_delivery")
        latencies = [float(r["latency_ms"]) / 1000 for r in await conn.fetch(
            f'SELECT latency_ms FROM "{schema}".webhook_delivery WHERE latency_ms IS NOT NULL')]
        bodies = [r["body"] for r in await conn.fetch(
            f'SELECT body FROM "{schema}".webhook_delivery ORDER BY id LIMIT 200')]
        await conn.close()
        rate = count / elapsed
        pct = percentiles(latencies)
        ctx.record("webhook deliveries (event -> signed POST -> recorded)", round(rate), "deliveries/s",
                   f"{count} events, {int(stats['attempts'])} attempts; HTTP p50 {pct[50] * 1000:.1f} ms / p99 "
                   f"{pct[99] * 1000:.1f} ms", errors=int(stats["failed"]),
                   lost=count - int(stats["ok"]) - int(stats["failed"]))

        secret = services.new_secret()
        sent = errors = 0
        queue: asyncio.Queue[str] = asyncio.Queue()
        for n in range(count):
            queue.put_nowait(bodies[n % len(bodies)])

        async with httpx.AsyncClient(timeout=10.0) as client:
            async def post() -> None:
                nonlocal sent, errors
                while not queue.empty():
                    body = queue.get_nowait()
                    headers = signing.headers(services.new_msg_id(), int(time.time()), body, [secret])
                    response = await client.post(url, content=body.encode(), headers=headers)
                    sent += 1
                    errors += response.status_code >= 300

            begun = time.perf_counter()
            await asyncio.gather(*(post() for _ in range(concurrency)))
            raw_elapsed = time.perf_counter() - begun
        raw_rate = sent / raw_elapsed
        ctx.record("  raw: httpx POSTs of the same signed bodies, same receiver", round(raw_rate), "requests/s",
                   f"{concurrency} at once, one client; deliveries are {rate / raw_rate:.2f}x this", errors=errors)
        ctx.log(f"endpoint {endpoint['id']} at {url}")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
