"""Upsell: the recompute (pairs over products and categories, reorder intervals, every contact's suggestions) over
BENCH_UPSELL_CONTACTS (20,000) contacts with about 3 orders of 2.5 lines each, beside a bare scan that reads the
same sale lines once; `suggestions_for` of 100 contacts (p50/p95), beside the bare select of their rows."""

from __future__ import annotations

import secrets
import time

from tests.bench.harness import BenchContext, percentiles

PRODUCTS = 300
RUNS = 3
READS = 50


async def main(ctx: BenchContext) -> None:
    from app.lib.db import current_uow, tenant_context
    from app.upsell import services
    from tenants import services as tenants

    contacts = ctx.env_int("BENCH_UPSELL_CONTACTS", 20_000)
    shop = await tenants.signup("Upsell shop", "up_000", "owner@up.example", "bench-password-" + secrets.token_hex(6),
                                owner_name="Owner")
    tenant = shop.tenant
    ctx.section(f"seeding {contacts:,} contacts, ~{contacts * 3:,} orders, ~{int(contacts * 7.5):,} lines")
    t0 = time.perf_counter()
    async with tenant_context(tenant):
        conn = current_uow().connection
        await conn.execute("SELECT setseed(0.19)")
        await conn.execute("INSERT INTO contact (name, search_text) SELECT 'Client ' || g, '' "
                           "FROM generate_series(1, $1) g", contacts)
        # Orders: 1 to 5 per contact over 180 days; popular products first (a skewed choice), some bought monthly.
        await conn.execute("""
            INSERT INTO shop_order (contact, number, currency, status, subtotal, total, paid, placed_at)
            SELECT c.id, 'B-' || c.id || '-' || k, 'USD', 'delivered', 0, 1000, 1000,
                   now() - make_interval(days => (180 - k * 30 - (random() * 10)::int))
            FROM contact c CROSS JOIN LATERAL generate_series(1, 1 + (random() * 4)::int) k""")
        await conn.execute("""
            INSERT INTO order_item (shop_order, position, name, sku, category, quantity, unit_price, line_total)
            SELECT o.id, n, 'Product ' || p, 'P-' || p, 'Category ' || (p % 20), 1, 1000, 1000
            FROM shop_order o CROSS JOIN LATERAL generate_series(1, 1 + (random() * 3)::int) n
            CROSS JOIN LATERAL (SELECT (floor($1 * power(random(), 2)))::int + n * 0 AS p) x""", PRODUCTS)
        lines = await conn.fetchval("SELECT count(*) FROM order_item")
        orders = await conn.fetchval("SELECT count(*) FROM shop_order")
        await conn.execute("ANALYZE")
    ctx.log(f"{orders:,} orders, {lines:,} lines seeded in {time.perf_counter() - t0:.1f} s")
    ctx.record("sale lines", lines, "rows", note=f"{orders:,} orders of {contacts:,} contacts, {PRODUCTS} products")

    ctx.section("recompute, beside a bare scan of the same sale lines")
    scans, runs = [], []
    for _ in range(RUNS):
        async with tenant_context(tenant):
            t = time.perf_counter()
            await current_uow().connection.fetchval(
                f"SELECT count(DISTINCT (contact, key)) FROM ({services.SALE_ITEMS_SQL}) s")
            scans.append((time.perf_counter() - t) * 1000)
        async with tenant_context(tenant):
            t = time.perf_counter()
            counts = await services.recompute()
            runs.append((time.perf_counter() - t) * 1000)
    ctx.record("recompute p50", percentiles(runs)[50], "ms",
               note=f"{counts['pairs']:,} product pairs, {counts['category_pairs']:,} category pairs, "
                    f"{counts['pair_suggestions'] + counts['reorder_suggestions']:,} suggestions; of {RUNS}")
    ctx.record("bare scan of the sale lines p50", percentiles(scans)[50], "ms", note="baseline: distinct (contact, product)")

    ctx.section("suggestions_for 100 contacts, beside the bare select of their rows")
    reads, bare = [], []
    for i in range(READS):
        ids = list(range(1 + i * 100 % contacts, 1 + i * 100 % contacts + 100))
        async with tenant_context(tenant):
            t = time.perf_counter()
            await services.suggestions_for(ids)
            reads.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await current_uow().connection.fetch("SELECT * FROM upsell_suggestion WHERE contact = ANY($1::int[])", ids)
            bare.append((time.perf_counter() - t) * 1000)
    p, b = percentiles(reads), percentiles(bare)
    ctx.record("suggestions_for(100) p50", p[50], "ms", note=f"p95 {p[95]:.1f} ms, {READS} calls")
    ctx.record("bare select of their rows p50", b[50], "ms", note=f"p95 {b[95]:.1f} ms (baseline)")
