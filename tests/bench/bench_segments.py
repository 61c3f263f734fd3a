"""Segments: count p50/p95 of saved segments over N contacts (default 200k; BENCH_SEGMENTS_CONTACTS=1000000 for the
issue's 1M) through `app.segments.services.count`, each beside a hand-written SQL count of the same question.

Data: one tenant from `tenants.services.signup`, then asyncpg COPY into contact (tags, temperature), shop_order
(0-3 orders per contact over two years, some refunded, some cancelled) and order_item (one line each, a category
out of eight); VACUUM ANALYZE; then each definition is saved once and counted BENCH_SEGMENTS_RUNS times (5) after
one warm-up, each call in its own `tenant_context`, one at a time. The raw baseline is timed the same way.

Sizes (environment): BENCH_SEGMENTS_CONTACTS (200000), BENCH_SEGMENTS_RUNS (5), BENCH_SEGMENTS_CHUNK (100000).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from typing import Any

from tests.bench.harness import BenchContext, percentiles

CATEGORIES = ("Coffee", "Tea", "Gear", "Cups", "Syrup", "Gifts", "Snacks", "Books")
TEMPS = ("hot", "warm", "cold", None, None)
ALIVE = ("c.deleted_at IS NULL AND c.merged_into IS NULL AND NOT EXISTS (SELECT 1 FROM privacy_request pr "
         "WHERE pr.contact = c.id AND pr.kind = 'erase' AND pr.status = 'done')")
SALES = "shop_order o LEFT JOIN order_status s ON s.key = o.status"
SALE = "coalesce(s.counts_as_sale, true)"

# name -> (definition, the same count written by hand)
CASES: dict[str, tuple[dict[str, Any], str]] = {
    "tag + temperature (contact columns only)": (
        {"all": [{"op": "has_tag", "value": "vip"}, {"field": "contact.temperature", "op": "equals", "value": "hot"}]},
        f"SELECT count(*) FROM contact c WHERE {ALIVE} AND c.tags @> ARRAY['vip']::varchar[] "
        "AND c.temperature = 'hot'"),
    "lapsed 90 days, 2+ orders (lateral aggregates)": (
        {"all": [{"field": "contact.last_order_at", "op": "days_ago_gt", "value": 90},
                 {"field": "contact.orders_count", "op": "gt", "value": 1}]},
        f"""SELECT count(*) FROM contact c JOIN (SELECT o.contact FROM {SALES} WHERE {SALE} GROUP BY o.contact
            HAVING count(*) > 1 AND max(o.placed_at) < now() - interval '90 days') a ON a.contact = c.id
            WHERE {ALIVE}"""),
    "bought category Coffee (EXISTS over items)": (
        {"all": [{"field": "contact.bought_category", "op": "contains", "value": "coffee"}]},
        f"""SELECT count(*) FROM contact c WHERE {ALIVE} AND c.id IN (SELECT o.contact FROM {SALES}
            JOIN order_item i ON i.shop_order = o.id WHERE {SALE} AND lower(i.category) = 'coffee')"""),
    "RFM r>=4 and m>=4 (window over buyers)": (
        {"all": [{"field": "contact.rfm_r", "op": "gt", "value": 3}, {"field": "contact.rfm_m", "op": "gt", "value": 3}]},
        f"""WITH b AS (SELECT o.contact, max(o.placed_at) FILTER (WHERE {SALE}) AS l, sum(o.paid - o.refunded) AS m
            FROM {SALES} GROUP BY o.contact HAVING count(*) FILTER (WHERE {SALE}) > 0),
            s AS (SELECT contact, ceil(5.0 * cume_dist() OVER (ORDER BY l)) AS r,
                  ceil(5.0 * cume_dist() OVER (ORDER BY m)) AS m FROM b)
            SELECT count(*) FROM contact c JOIN s ON s.contact = c.id WHERE {ALIVE} AND s.r >= 4 AND s.m >= 4"""),
}


def _batch(rnd: random.Random, start: int, n: int, now: dt.datetime, next_order: int) -> tuple[list, list, list, int]:
    contacts, orders, items = [], [], []
    for cid in range(start, start + n):
        tags = ["vip"] if rnd.random() < 0.1 else (["wholesale"] if rnd.random() < 0.1 else [])
        contacts.append((cid, f"Contact {cid}", tags, rnd.choice(TEMPS), now, now))
        for _ in range(rnd.choice((0, 0, 1, 1, 2, 3))):
            placed = now - dt.timedelta(days=rnd.random() * 730)
            paid = rnd.randrange(500, 20000)
            refunded = paid if rnd.random() < 0.05 else 0
            status = "cancelled" if rnd.random() < 0.03 else "delivered"
            orders.append((next_order, cid, f"B{next_order}", "USD", status, paid, paid, paid, refunded, placed,
                           placed, placed))
            items.append((next_order, "Thing", f"SKU-{rnd.randrange(200)}", rnd.choice(CATEGORIES), 1, paid, paid))
            next_order += 1
    return contacts, orders, items, next_order


async def load(ctx: BenchContext, tenant: Any, total: int, chunk: int) -> int:
    import asyncpg

    rnd = random.Random(19)
    now = dt.datetime.now(dt.UTC)
    conn = await asyncpg.connect(ctx.dsn)
    try:
        t0 = time.perf_counter()
        next_order, done, orders_n = 1, 0, 0
        while done < total:
            n = min(chunk, total - done)
            contacts, orders, items, next_order = _batch(rnd, done + 1, n, now, next_order)
            async with conn.transaction():
                await conn.copy_records_to_table("contact", records=contacts, schema_name=tenant.schema,
                                                 columns=("id", "name", "tags", "temperature", "created_at",
                                                          "updated_at"))
                await conn.copy_records_to_table("shop_order", records=orders, schema_name=tenant.schema,
                                                 columns=("id", "contact", "number", "currency", "status", "subtotal",
                                                          "total", "paid", "refunded", "placed_at", "created_at",
                                                          "updated_at"))
                await conn.copy_records_to_table("order_item", records=items, schema_name=tenant.schema,
                                                 columns=("shop_order", "name", "sku", "category", "quantity",
                                                          "unit_price", "line_total"))
            done += n
            orders_n += len(orders)
        schema = tenant.schema
        await conn.execute(f'SELECT setval(\'"{schema}".contact_id_seq\', {total}); '
                           f'SELECT setval(\'"{schema}".shop_order_id_seq\', {max(next_order - 1, 1)})')
        for table in ("contact", "shop_order", "order_item"):
            await conn.execute(f'VACUUM ANALYZE "{schema}".{table}')
        ctx.record("load: contacts + orders by COPY", round(time.perf_counter() - t0, 1), "s",
                   f"{total} contacts, {orders_n} orders")
        return orders_n
    finally:
        await conn.close()


async def timed(tenant: Any, fn: Any, runs: int) -> list[float]:
    from app.lib.db import tenant_context

    async with tenant_context(tenant):
        await fn()  # warm-up
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        async with tenant_context(tenant):
            await fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def main(ctx: BenchContext) -> None:
    from app.lib.db import current_uow, tenant_context
    from app.segments import services as segments
    from tenants import services as tenant_services

    total = ctx.env_int("BENCH_SEGMENTS_CONTACTS", 200_000)
    runs = ctx.env_int("BENCH_SEGMENTS_RUNS", 5)
    chunk = ctx.env_int("BENCH_SEGMENTS_CHUNK", 100_000)
    ctx.section(f"load {total} contacts")
    result = await tenant_services.signup("Bench segments", "bench_segments", "owner@bench-segments.example",
                                          "bench-password-123", owner_name="Owner")
    tenant = result.tenant
    await load(ctx, tenant, total, chunk)
    ctx.section(f"segment count over {total} contacts: services.count vs a hand-written SQL count, {runs} runs")
    for name, (definition, raw) in CASES.items():
        async with tenant_context(tenant):
            seg = await segments.create(None, name=name[:100], definition=definition)
            got = await segments.count(seg["id"])
            want = await current_uow().connection.fetchval(raw)

        async def by_segment(sid: int = seg["id"]) -> None:
            await segments.count(sid)

        async def by_hand(sql: str = raw) -> None:
            await current_uow().connection.fetchval(sql)

        seg_ms = percentiles(await timed(tenant, by_segment, runs), (50, 95))
        raw_ms = percentiles(await timed(tenant, by_hand, runs), (50, 95))
        ctx.record(f"{name}: segment p50 / p95", f"{seg_ms[50]:.0f} / {seg_ms[95]:.0f}", "ms",
                   f"count {got}", errors=0 if got == want else 1)
        ctx.record(f"{name}: raw SQL p50 / p95", f"{raw_ms[50]:.0f} / {raw_ms[95]:.0f}", "ms", f"count {want}")
    ctx.record("load average (1, 5, 15 min)", " ".join(f"{x:.2f}" for x in os.getloadavg()), "")
