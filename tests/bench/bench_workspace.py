"""Workspace: opening a conversation whose client has 10,000 timeline items, server time p50/p95 for the whole
workspace page, beside the raw asyncpg baseline of the same data queries.

What is timed, one call at a time, after a warm-up:
- HTTP: `GET /t/{slug}/workspace/{id}` (the whole page: left list with unread counts, the thread's newest page,
  the right pane: card, value, open orders, deals, duplicates, recent timeline) and the htmx pane swap of the same
  URL, through the real app (httpx ASGI transport in this process, a session cookie; no network, no lifespan);
- `app.workspace.views.main_context`'s data (the services without the template), in tenant_context;
- "load earlier": `services.thread(contact, before=<deep cursor>)`;
- baseline: the same data queries as raw asyncpg SQL on one connection (BEGIN; SET LOCAL search_path; the
  conversation row, the left list with unread counts, the thread page, the recent timeline, the card's
  identities; COMMIT), i.e. what the page costs with no ORM, no template and no HTTP.

Data: a tenant from `tenants.services.signup`; the client has BENCH_WS_ITEMS (10000) interactions across every
channel (1 in 10 linked to the open conversation, 1 in 3 inbound), BENCH_WS_BACKGROUND (100000) more on
BENCH_WS_CONTACTS (2000) other contacts; BENCH_WS_CONVERSATIONS (40) waiting conversations in the left list;
BENCH_WS_CALLS (200) timed calls per figure.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import secrets
import time
from typing import Any

import asyncpg

from tests.bench.harness import BenchContext, percentiles

SEED = 20261130
CHANNELS = ("call", "sms", "email", "chat", "note", "file", "order", "system")


async def _in(tenant: Any, coro: Any) -> Any:
    from app.lib.db import tenant_context

    async with tenant_context(tenant):
        return await coro


def _fmt(ms: list[float]) -> tuple[str, str]:
    p = percentiles(ms, (50, 95, 99))
    return f"{p[50]:.2f} / {p[95]:.2f}", f"{len(ms)} calls, p99 {p[99]:.2f}"


async def main(ctx: BenchContext) -> None:
    import httpx

    from app.accounts.services import Principal, create_session
    from app.asgi import create_app
    from app.conversations import services as conversations
    from app.lib.db import tenant_context
    from app.workspace import client, services
    from tenants import services as tenant_services

    n_items = ctx.env_int("BENCH_WS_ITEMS", 10_000)
    n_bg = ctx.env_int("BENCH_WS_BACKGROUND", 100_000)
    n_contacts = ctx.env_int("BENCH_WS_CONTACTS", 2_000)
    n_convs = ctx.env_int("BENCH_WS_CONVERSATIONS", 40)
    calls = ctx.env_int("BENCH_WS_CALLS", 200)
    rnd = random.Random(SEED)

    ctx.section("tenant via signup, the client and the background by COPY")
    password = "bench-password-" + secrets.token_hex(6)
    result = await tenant_services.signup("Bench workspace", "bench_ws", "owner@bench-ws.example", password,
                                          owner_name="Owner")
    tenant = result.tenant
    schema = tenant.schema
    conn = await asyncpg.connect(ctx.dsn)
    try:
        now = dt.datetime.now(dt.UTC)
        await conn.copy_records_to_table(
            "contact", schema_name=schema, columns=("id", "name", "company", "search_text", "created_at",
                                                    "updated_at"),
            records=[(i, f"Client {i}", "", f"client {i}", now, now) for i in range(1, n_contacts + 2)])
        await conn.execute(f"SELECT setval(pg_get_serial_sequence('\"{schema}\".contact', 'id'), $1)", n_contacts + 1)
        await conn.execute(f'INSERT INTO "{schema}".contact_phone (contact, e164, label, position) '
                           "VALUES (1, '+14155550101', '', 0)")
        target = 1
        async with tenant_context(tenant):
            opened = [await conversations.open_conversation(channel=rnd.choice(("sms", "email", "chat", "call")),
                                                            contact_id=rnd.randint(1, n_contacts + 1),
                                                            subject=f"Question {k}") for k in range(n_convs - 1)]
            conv = await conversations.open_conversation(channel="sms", contact_id=target, subject="Where is it?",
                                                         from_address="+14155550101")
        opened.append(conv)

        def rows(contact_of: Any, count: int, link: bool) -> list[tuple]:
            out = []
            for _ in range(count):
                ch = rnd.choice(CHANNELS)
                direction = "internal" if ch in ("note", "file", "order", "system") else (
                    "in" if rnd.random() < 0.34 else "out")
                when = now - dt.timedelta(seconds=rnd.randint(60, 2 * 365 * 86_400))
                links = {"conversation_id": conv["id"]} if link and rnd.random() < 0.1 else {}
                out.append((contact_of(), ch, direction, when, "customer" if direction == "in" else "user",
                            f"{ch} item", json.dumps({"body": f"{ch} body text"}), json.dumps(links), when))
            return out

        t0 = time.perf_counter()
        data = rows(lambda: target, n_items, True) + rows(lambda: rnd.randint(2, n_contacts + 1), n_bg, False)
        await conn.copy_records_to_table(
            "interaction", schema_name=schema, records=data,
            columns=("contact", "channel", "direction", "occurred_at", "actor_type", "summary", "payload", "links",
                     "created_at"))
        await conn.execute(f'VACUUM ANALYZE "{schema}".interaction, "{schema}".conversation, "{schema}".contact')
        ctx.log(f"{len(data):,} interactions ({n_items:,} on the client) + VACUUM ANALYZE in "
                f"{time.perf_counter() - t0:.1f} s; {n_convs} waiting conversations")

        async with tenant_context(tenant):
            token, _ = await create_session(result.user_id)
        owner = Principal(user_id=result.user_id, email="owner@bench-ws.example", name="Owner", role="owner",
                          via="session", credential_id=0)
        app = create_app()
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        url = f"/t/{tenant.slug}/workspace/{conv['id']}"
        async with httpx.AsyncClient(transport=transport, base_url="http://bench.local",
                                     cookies={"sb_session": token}) as http:
            first = await http.get(url, headers={"accept": "text/html"})
            if first.status_code != 200 or 'data-testid="ws-thread"' not in first.text:
                raise RuntimeError(f"workspace page did not render: {first.status_code} {first.text[:300]}")
            shown = first.text.count('data-testid="ws-item-msg"')
            ctx.log(f"page: {len(first.content) / 1024:.0f} KiB of HTML, {shown} thread items shown")

            async def timed(label: str, fn: Any) -> list[float]:
                errors = 0
                for _ in range(max(5, calls // 10)):
                    await fn()
                ms = []
                for _ in range(calls):
                    t = time.perf_counter()
                    ok = await fn()
                    ms.append((time.perf_counter() - t) * 1000)
                    errors += 0 if ok else 1
                value, note = _fmt(ms)
                ctx.record(label, value, "ms", note, errors=errors)
                return ms

            ctx.section(f"open a conversation whose client has {n_items:,} timeline items")

            async def page() -> bool:
                return (await http.get(url, headers={"accept": "text/html"})).status_code == 200

            async def swap() -> bool:
                return (await http.get(url, headers={"HX-Request": "true"})).status_code == 200

            await timed("whole workspace page (HTTP, server in process) p50 / p95", page)
            await timed("pane swap, hx-get of the same URL (HTTP) p50 / p95", swap)

        async def data_only() -> bool:
            async with tenant_context(tenant):
                row = await services.conversation_for(owner, conv["id"])
                await services.mark_seen(owner, conv["id"])
                await services.thread(row["contact_id"])
                await client.context(row)
                await services.left_list(owner)
            return True

        await timed("workspace data, services without templates p50 / p95", data_only)
        row = await _in(tenant, services.conversation_for(owner, conv["id"]))
        for label, make in (("  of which the thread's newest page", lambda: services.thread(target)),
                            ("  of which the left list with unread counts", lambda: services.left_list(owner)),
                            ("  of which the right pane (client.context)", lambda: client.context(row))):
            async def step(make: Any = make) -> bool:
                async with tenant_context(tenant):
                    await make()
                return True
            await timed(f"{label} p50 / p95", step)

        async with tenant_context(tenant):
            cursor, pages = None, 0
            while True:
                _, earlier = await services.thread(target, before=cursor)
                pages += 1
                if not earlier or pages > n_items // services.PAGE // 2:
                    break
                cursor = earlier
        deep = cursor

        async def earlier_page() -> bool:
            async with tenant_context(tenant):
                items, _ = await services.thread(target, before=deep)
            return len(items) == services.PAGE

        await timed(f"load earlier, page {pages} of the thread p50 / p95", earlier_page)

        ids = [c["id"] for c in opened]

        async def raw() -> bool:
            async with conn.transaction():
                await conn.execute(f'SET LOCAL search_path TO "{schema}"')
                await conn.fetchrow("SELECT c.*, ct.name, q.name FROM conversation c JOIN queue q ON q.id = c.queue "
                                    "LEFT JOIN contact ct ON ct.id = c.contact WHERE c.id = $1", conv["id"])
                await conn.execute('INSERT INTO ws_seen ("user", conversation, seen_at) VALUES ($1, $2, now()) '
                                   'ON CONFLICT ("user", conversation) DO UPDATE SET seen_at = excluded.seen_at',
                                   owner.user_id, conv["id"])
                await conn.fetch("SELECT c.*, ct.name, q.name FROM conversation c JOIN queue q ON q.id = c.queue "
                                 "LEFT JOIN contact ct ON ct.id = c.contact WHERE c.status = 'waiting' "
                                 "ORDER BY c.created_at")
                await conn.fetch(services._UNREAD_SQL, ids, owner.user_id)
                await conn.fetch("SELECT * FROM interaction WHERE contact = $1 AND channel = ANY($2::text[]) AND "
                                 + services._NOT_A_MARKER + " ORDER BY occurred_at DESC, id DESC LIMIT $3",
                                 target, list(services.THREAD_CHANNELS), services.PAGE + 1)
                await conn.fetch("SELECT * FROM interaction WHERE contact = $1 ORDER BY occurred_at DESC, id DESC "
                                 "LIMIT 9", target)
                await conn.fetch("SELECT * FROM contact WHERE id = $1", target)
                await conn.fetch("SELECT * FROM contact_phone WHERE contact = $1", target)
                await conn.fetch("SELECT * FROM contact_email WHERE contact = $1", target)
                await conn.fetch("SELECT * FROM shop_order WHERE contact = $1 ORDER BY placed_at DESC LIMIT 11", target)
            return True

        await timed("baseline: the same data queries, raw asyncpg p50 / p95", raw)
    finally:
        await conn.close()
