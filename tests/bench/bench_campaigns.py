"""Campaigns: an SMS campaign through the Twilio simulator (its own process): messages/s, duplicates (must be 0),
time to the first message, beside a raw baseline (plain POSTs to the simulator's Messages endpoint, one at a time
like the sender, and 8 at once).

The sender runs as the worker runs it (app.lib.jobs.Worker in this process, the `campaigns.run` job): per message
a consent check, the template rendered, Twilio's REST call, the timeline entry and the `sms_message` row, one
transaction each (crash-safe: claimed and committed before the call). Duplicates and losses are counted from the
simulator's own Messages list (the filtered, paged REST endpoint).
Sizes: BENCH_CAMPAIGN_RECIPIENTS (2000; the brief's size is 100000), BENCH_CAMPAIGN_RAW (1000) raw POSTs."""

from __future__ import annotations

import asyncio
import collections
import os
import secrets
import subprocess
import sys
import time
from typing import Any

import httpx

from tests.bench.harness import REPO, BenchContext, free_port

NUMBER = "+14155550100"


async def _wait_listening(url: str, proc: subprocess.Popen[bytes], auth: tuple[str, str], acct: str) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("the simulator exited")
            try:
                if (await client.get(f"{url}/2010-04-01/Accounts/{acct}.json", auth=auth)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError("the simulator did not start")


async def _raw(ctx: BenchContext, url: str, acct: str, auth: tuple[str, str], count: int, concurrency: int) -> float:
    """Messages/s of plain form POSTs to Messages.json (`concurrency` at a time)."""
    sent = 0
    errors = 0

    async def one(client: httpx.AsyncClient, i: int) -> None:
        nonlocal sent, errors
        r = await client.post(f"{url}/2010-04-01/Accounts/{acct}/Messages.json", auth=auth,
                              data={"To": f"+1999{concurrency}{i:07d}", "From": NUMBER, "Body": "raw baseline"})
        if r.status_code == 201:
            sent += 1
        else:
            errors += 1

    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=30) as client:
        queue = list(range(count))

        async def lane() -> None:
            while queue:
                await one(client, queue.pop())

        await asyncio.gather(*(lane() for _ in range(concurrency)))
    rate = sent / (time.perf_counter() - start)
    ctx.record(f"raw POST Messages.json, {concurrency} at a time", round(rate, 1), "msg/s", errors=errors,
               note=f"{count} requests")
    return rate


async def _list_all(url: str, acct: str, auth: tuple[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    next_uri: str | None = f"/2010-04-01/Accounts/{acct}/Messages.json?PageSize=1000"
    async with httpx.AsyncClient(timeout=120) as client:
        while next_uri:
            page = (await client.get(url + next_uri, auth=auth)).json()
            out += page["messages"]
            next_uri = page["next_page_uri"]
    return out


async def main(ctx: BenchContext) -> None:
    from app import jobs as _jobs  # noqa: F401  (fills the job registry, as the worker does)
    from app.accounts.services import Principal
    from app.campaigns import services as campaigns
    from app.campaigns.schemas import CampaignIn, ContentIn, VariantIn
    from app.lib.db import current_uow, tenant_context
    from app.lib.jobs import Worker
    from telephony import client as twilio_client
    from telephony import config as twilio_config
    from tenants import services as tenants

    size = ctx.env_int("BENCH_CAMPAIGN_RECIPIENTS", 2000)
    raw_count = ctx.env_int("BENCH_CAMPAIGN_RAW", 1000)
    acct, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    auth = (acct, token)
    sim = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "twilio-sim", "--port", str(port), "--account-sid", acct, "--auth-token",
         token, "--number", NUMBER, "--webhook-base", f"http://127.0.0.1:{free_port()}/t/none/webhooks/twilio"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker: Worker | None = None
    try:
        await _wait_listening(url, sim, auth, acct)
        ctx.section(f"Raw baseline: the simulator alone ({os.getloadavg()[0]:.2f} load)")
        await _raw(ctx, url, acct, auth, raw_count, 1)
        await _raw(ctx, url, acct, auth, raw_count, 8)

        ctx.section(f"A {size:,}-recipient SMS campaign")
        ctx.log("signing up the shop (a schema migrated from scratch)")
        result = await tenants.signup("Bench campaigns", "bench_camp", "owner@bench-camp.example",
                                      "bench owner passphrase", owner_name="Owner")
        actor = Principal(user_id=result.user_id, email="owner@bench-camp.example", name="Owner", role="owner",
                          via="session", credential_id=0)
        twilio_client.use_api_base(url)
        async with tenant_context(result.tenant):
            await twilio_config.save(actor, {"account_sid": acct, "auth_token": token, "numbers": [NUMBER]})
            conn = current_uow().connection
            await conn.execute(
                "INSERT INTO contact (name) SELECT 'Client ' || g FROM generate_series(1, $1) g", size)
            await conn.execute("INSERT INTO contact_phone (contact, e164) SELECT id, '+1415' || (2000000 + id)::text "
                               "FROM contact")
            seg = await conn.fetchval("INSERT INTO segment (name, kind) VALUES ('Everyone', 'static') RETURNING id")
            await conn.execute("INSERT INTO segment_member (segment, contact) SELECT $1, id FROM contact", seg)
            draft = await campaigns.create(actor, CampaignIn(
                name="Bench", channel="sms", segment_id=seg,
                variants=[VariantIn(key="A", content={"": ContentIn(body="Hi {{ contact.first_name }}, new beans!")})]))
        ctx.log("audience and draft ready; sending")
        worker = Worker(ctx.dsn, poll_seconds=0.5)
        await worker.start()
        t0 = time.perf_counter()
        async with tenant_context(result.tenant):
            await campaigns.send(actor, draft["id"])
        frozen = time.perf_counter() - t0
        ctx.record("audience frozen (INSERT ... SELECT)", round(frozen * 1000), "ms", note=f"{size:,} recipients")
        first: float | None = None
        while True:
            await asyncio.sleep(0.5 if first is None else 2)
            async with tenant_context(result.tenant):
                row = await current_uow().connection.fetchrow(
                    "SELECT c.status, (SELECT count(*) FROM campaign_recipient r WHERE r.campaign = c.id "
                    "AND r.status = 'sent') AS sent FROM campaign c WHERE c.id = $1", draft["id"])
            if first is None and row["sent"]:
                first = time.perf_counter() - t0
            if row["status"] == "done":
                break
        total = time.perf_counter() - t0
        async with tenant_context(result.tenant):
            timing = await current_uow().connection.fetchrow(
                "SELECT min(sent_at) AS first, max(sent_at) AS last, count(*) FILTER (WHERE status = 'sent') AS sent, "
                "count(*) FILTER (WHERE status <> 'sent') AS other FROM campaign_recipient WHERE campaign = $1",
                draft["id"])
            started = await current_uow().connection.fetchval("SELECT started_at FROM campaign WHERE id = $1",
                                                              draft["id"])
            outcomes = await current_uow().connection.fetch(
                "SELECT status, coalesce(skip_reason, '') AS why, count(*) AS n FROM campaign_recipient "
                "WHERE campaign = $1 GROUP BY 1, 2", draft["id"])
        ctx.log("recipients: " + ", ".join(f"{r['status']} {r['why']} {r['n']}".replace("  ", " ") for r in outcomes))
        if timing["first"] is None:
            ctx.record("campaign messages/s", 0, "msg/s", errors=size, note="nothing was sent")
            return
        span = max((timing["last"] - timing["first"]).total_seconds(), 1e-6)
        ctx.record("time to first message", round((timing["first"] - started).total_seconds() * 1000), "ms",
                   note=f"start -> first Twilio-accepted SMS (polled: {first or 0:.1f} s)")
        ctx.record("campaign messages/s", round(timing["sent"] / span, 1), "msg/s",
                   note=f"{timing['sent']:,} sent in {span:.1f} s; {total:.1f} s send-to-done; "
                        f"load {os.getloadavg()[0]:.2f}")
        ctx.section("Counting at the simulator")
        messages = [m for m in await _list_all(url, acct, auth) if m["to"].startswith("+1415")]
        per = collections.Counter(m["to"] for m in messages)
        duplicates = sum(n - 1 for n in per.values())
        missing = size - len(per)
        ctx.record("duplicates", duplicates, "messages", note="must be 0", errors=duplicates)
        ctx.record("missing", missing, "recipients", note="recipients without a message", lost=missing)
        ctx.record("recipients not 'sent'", int(timing["other"]), "", errors=int(timing["other"]))
    finally:
        if worker is not None:
            await worker.stop()
        sim.terminate()
        try:
            sim.wait(10)
        except subprocess.TimeoutExpired:
            sim.kill()
