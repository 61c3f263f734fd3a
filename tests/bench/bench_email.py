"""Inbound email: emails/s accepted by `switchboard mail-in` over real SMTP sessions, and emails/s parsed and stored
(contact found or created, threaded, timeline, queue) by the processing job.

The listener runs as its own process (as in production); concurrent SMTP sessions each deliver a series of mails.
The mix: a third plain new threads, a third multipart (quoted-printable text + HTML + a 10 KiB attachment), a third
replies threaded by In-Reply-To; 200 distinct senders, so most mails find an existing contact.
Sizes: BENCH_MAIL_COUNT (2000) mails, BENCH_MAIL_SESSIONS (16) concurrent SMTP sessions, BENCH_MAIL_WORKERS (1) job
workers."""

from __future__ import annotations

import asyncio
import os
import resource
import secrets
import subprocess
import sys
import time
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import asyncpg

from tests.bench.harness import REPO, BenchContext, free_port, percentiles

SENDERS = 200
ATTACHMENT = bytes(range(256)) * 40  # 10 KiB


def _mail(i: int, to: str, sent: dict[int, str]) -> EmailMessage:
    """Mail number `i`; a reply answers the same sender's previous mail (`sent`: sender -> its last Message-ID)."""
    sender = i % SENDERS
    msg = EmailMessage()
    msg["From"] = f"Customer {sender} <customer{sender}@bench-customers.example>"
    msg["To"] = to
    msg["Message-ID"] = f"<bench-{i}-{secrets.token_hex(4)}@bench-customers.example>"
    kind = i % 3
    if kind == 2 and sender in sent:
        parent = sent[sender]
        msg["Subject"] = f"Re: Order {i // 3}"
        msg["In-Reply-To"] = parent
        msg["References"] = parent
        msg.set_content(f"Any news about my order?\n\n> earlier message {parent}\n")
    elif kind == 1:
        msg["Subject"] = f"Bestellung {i} - Rückfrage"
        msg.set_content("Grüße! Wo bleibt meine Bestellung? " + "lange Zeile " * 40, cte="quoted-printable")
        msg.add_alternative("<p>Grüße! <b>Wo</b> bleibt meine Bestellung?</p>", subtype="html")
        msg.add_attachment(ATTACHMENT, maintype="application", subtype="octet-stream", filename=f"scan-{i}.bin")
    else:
        msg["Subject"] = f"Order {i // 3}"
        msg.set_content(f"Hello, where is order {i}? Thanks.")
    return msg


async def _wait_port(port: int, proc: asyncio.subprocess.Process, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"mail-in exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError("mail-in did not listen in time")


async def _deliver(port: int, to: str, count: int, sessions: int) -> tuple[float, list[float], int]:
    """`count` mails over `sessions` concurrent SMTP sessions (each reuses its connection); wall time, per-mail
    latencies, refusals."""
    sent_ids: dict[int, str] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    latencies: list[float] = []
    refused = 0

    async def session() -> None:
        nonlocal refused
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60)
        await smtp.connect()
        try:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                msg = _mail(i, to, sent_ids)
                started = time.perf_counter()
                try:
                    await smtp.send_message(msg, sender=str(msg["From"]).split("<")[1].rstrip(">"), recipients=[to])
                except aiosmtplib.SMTPException:
                    refused += 1
                    continue
                latencies.append(time.perf_counter() - started)
                sent_ids[i % SENDERS] = str(msg["Message-ID"])
        finally:
            await smtp.quit()

    started = time.perf_counter()
    await asyncio.gather(*(session() for _ in range(sessions)))
    return time.perf_counter() - started, latencies, refused


async def main(ctx: BenchContext) -> None:
    from app import jobs as _jobs  # noqa: F401  (hands the job registry to the Worker, as app.cli does)
    from app.lib.jobs import Worker
    from app.settings import get_settings
    from tenants import services as tenants

    count = ctx.env_int("BENCH_MAIL_COUNT", 2000)
    sessions = ctx.env_int("BENCH_MAIL_SESSIONS", 16)
    workers = ctx.env_int("BENCH_MAIL_WORKERS", 1)
    slug = f"mail_{secrets.token_hex(3)}"
    shop = await tenants.signup("Bench mail shop", slug, f"owner@{slug.replace('_', '-')}.example",
                                "bench owner passphrase", owner_name="Owner")
    to = f"{slug}@{get_settings().mail.mail_domain}"
    schema = shop.tenant.schema

    ctx.section(f"SMTP accept: {count} mails over {sessions} sessions to `switchboard mail-in`")
    port = free_port()
    env = {**os.environ, "MAIL_IN_PORT": str(port), "MAIL_IN_HOST": "127.0.0.1"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "from app.cli import main; main()", "mail-in",
                                                cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL)
    try:
        await _wait_port(port, proc)
        await _deliver(port, to, 30, 2)  # warm-up: the listener's pool, the tenant lookup
        elapsed, latencies, refused = await _deliver(port, to, count, sessions)
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    pct = percentiles(latencies)
    ctx.record("inbound accepted", len(latencies) / elapsed, "emails/s",
               note=f"{len(latencies)} mails, {sessions} SMTP sessions; stored + job queued per mail", errors=refused)
    ctx.record("inbound accept latency p50", pct[50] * 1000, "ms", note=f"p99 {pct[99] * 1000:.1f} ms",
               errors=refused)
    ctx.record("inbound refused", refused, "mails", errors=refused)

    # The schema name comes from our tenant registry (a validated slug), so formatting it into SQL is safe.
    conn = await asyncpg.connect(ctx.dsn)
    try:
        total = await conn.fetchval(f'SELECT count(*) FROM "{schema}".inbound_mail')
        size = await conn.fetchval(f'SELECT coalesce(avg(size), 0)::int FROM "{schema}".inbound_mail')
        ctx.log(f"{total} mails stored, {size} bytes on average")

        ctx.section(f"parse + store: the processing job ({workers} worker(s))")
        one_by_one = bool(ctx.env_int("BENCH_MAIL_ONE_BY_ONE", 0))
        if one_by_one:  # the batch's set-based filing refused: every mail through InboundEmail.handle, as before
            from app.email import inbound_batch

            async def refuse(self: Any) -> dict[int, str]:
                raise RuntimeError("BENCH_MAIL_ONE_BY_ONE")

            inbound_batch.Batch.file = refuse  # type: ignore[method-assign]
        pool = [Worker(ctx.dsn, poll_seconds=0.2) for _ in range(workers)]
        cpu0 = _cpu_seconds()
        started = time.perf_counter()
        for worker in pool:
            await worker.start()
        try:
            while True:
                left = await conn.fetchval(
                    f'SELECT count(*) FROM "{schema}".inbound_mail WHERE processed_at IS NULL')
                if not left:
                    break
                if time.perf_counter() - started > 600:
                    raise RuntimeError(f"{left} mails still unprocessed after 10 minutes")
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
            cpu = _cpu_seconds() - cpu0
        finally:
            for worker in pool:
                await worker.stop()
        stats: dict[str, Any] = dict(await conn.fetchrow(
            f'SELECT (SELECT count(*) FROM "{schema}".email_message WHERE direction = \'in\') AS emails, '
            f'(SELECT count(*) FROM "{schema}".contact) AS contacts, '
            f'(SELECT count(*) FROM "{schema}".conversation) AS conversations, '
            f'(SELECT count(*) FROM "{schema}".inbound_mail WHERE error <> \'\') AS errors'))
        contents = [bytes(r["content"]) for r in await conn.fetch(f'SELECT content FROM "{schema}".inbound_mail')]
        raw_parse, app_parse = _parse_rates(contents)
        raw_store = await _raw_store_rate(conn, contents)
    finally:
        await conn.close()
    ctx.record("inbound parsed + stored", total / elapsed, "emails/s",
               note=f"{stats['emails']} emails, {stats['contacts']} contacts, {stats['conversations']} "
                    f"conversations, {stats['errors']} errors; {workers} job worker(s)",
               errors=int(stats["errors"]), lost=max(0, int(total) - int(stats["emails"]) - int(stats["errors"])))
    rate = total / elapsed
    ctx.record("inbound parsed + stored per CPU-second of the app process", total / cpu, "emails/s",
               note=f"{cpu:.1f} s CPU (this process: the job worker; PostgreSQL's own not counted) in {elapsed:.1f} s "
                    f"wall; {'one by one (BENCH_MAIL_ONE_BY_ONE=1)' if one_by_one else 'set-based batches'}")
    ctx.record("  raw: Python email parse (policy.default) of the same mails", raw_parse, "emails/s",
               note=f"one core, no database; the app's parse: {app_parse:,.0f}/s ({app_parse / raw_parse:.1f}x raw)")
    ctx.record("  raw: asyncpg, one INSERT per mail of the same mails, 20 per transaction", raw_store, "emails/s",
               note=f"parsed + stored is {rate / raw_store:.2f}x this and {rate / raw_parse:.2f}x the raw parse")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _parse_rates(contents: list[bytes]) -> tuple[float, float]:
    """Mails/s (CPU time) of the standard library's parse with policy.default, and of the app's parse."""
    from email import policy
    from email.parser import BytesParser

    from app.email.parse import parse

    out = []
    for fn in (lambda raw: BytesParser(policy=policy.default).parsebytes(raw), parse):
        started = time.process_time()
        for raw in contents:
            fn(raw)
        out.append(len(contents) / max(time.process_time() - started, 1e-9))
    return out[0], out[1]


async def _raw_store_rate(conn: asyncpg.Connection, contents: list[bytes]) -> float:
    """The floor under "stored": the same mails' sender, subject and text INSERTed with plain asyncpg, one statement
    per mail, one transaction per 20 (what one processing job does), into a scratch table."""
    from email import policy
    from email.parser import BytesParser

    rows = []
    for raw in contents:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw)
        rows.append((str(msg.get("From", "")), str(msg.get("Subject", "")), raw.decode(errors="replace")))
    await conn.execute("CREATE TEMP TABLE bench_raw_mail (id serial PRIMARY KEY, sender text, subject text, body text)")
    started = time.perf_counter()
    for start in range(0, len(rows), 20):
        async with conn.transaction():
            for row in rows[start:start + 20]:
                await conn.execute("INSERT INTO bench_raw_mail (sender, subject, body) VALUES ($1, $2, $3)", *row)
    return len(rows) / (time.perf_counter() - started)
