"""Events/s of one tenant with 8 concurrent writers (realtime.publish.emit in tenant units of work, ids from a
sequence, positions (tx, id)), beside raw asyncpg INSERTs of the same rows with nextval; plus the old one-row
counter design (raw) and the writers' rate while one more transaction holds a published event open.

Sizes: BENCH_EVENTS_WRITERS (8), BENCH_EVENTS_SECONDS (5)."""

from __future__ import annotations

import secrets

import asyncpg

from tests.bench.harness import BenchContext, closed_loop

_OLD_COUNTER = """
WITH seq AS (
    INSERT INTO bench_old.event_seq (id, last_id) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET last_id = bench_old.event_seq.last_id + 1
    RETURNING last_id
)
INSERT INTO bench_old.event_log (id, name, data, channels, at)
SELECT last_id, $1, $2::jsonb, $3::varchar[], clock_timestamp() FROM seq
"""


async def main(ctx: BenchContext) -> None:
    from app.contacts.events import CONTACT_CREATED
    from app.lib.db import tenant_context
    from realtime import log as event_log
    from realtime.publish import emit
    from tenants import services

    writers = ctx.env_int("BENCH_EVENTS_WRITERS", 8)
    seconds = float(ctx.env_int("BENCH_EVENTS_SECONDS", 5))
    shop = await services.signup("Events shop", "ev_000", "owner@ev.example", "bench-password-" + secrets.token_hex(6),
                                 owner_name="Owner")
    tenant = shop.tenant
    schema = tenant.schema

    ctx.section(f"events/s of one tenant, {writers} concurrent writers, {seconds:.0f} s each")

    async def app_write(_: int) -> bool:
        async with tenant_context(tenant):
            await emit(CONTACT_CREATED, contact_id=1)
        return True

    async def uow_write(_: int) -> bool:  # the unit of work alone, writing the same row by hand: no emit()
        async with tenant_context(tenant) as uow:
            await uow.connection.execute(
                "INSERT INTO event_log (name, data, channels, at) VALUES ($1, $2::jsonb, $3::varchar[], "
                "clock_timestamp())", "contact.created", '{"contact_id": 1}', ["queue"])
        return True

    conns = [await asyncpg.connect(ctx.dsn) for _ in range(writers + 1)]
    try:
        raw_sql = (f'INSERT INTO "{schema}".event_log (name, data, channels, at) '
                   "VALUES ($1, $2::jsonb, $3::varchar[], clock_timestamp())")

        async def raw_write(n: int) -> bool:
            async with conns[n].transaction():
                await conns[n].execute(raw_sql, "contact.created", '{"contact_id": 1}', ["queue"])
            return True

        await conns[0].execute(
            "CREATE SCHEMA bench_old; CREATE TABLE bench_old.event_seq (id int PRIMARY KEY, last_id bigint); "
            "CREATE TABLE bench_old.event_log (id bigint PRIMARY KEY, name varchar(64), data jsonb, "
            "channels varchar(64)[], at timestamptz)")

        async def old_write(n: int) -> bool:
            async with conns[n].transaction():
                await conns[n].execute(_OLD_COUNTER, "contact.created", '{"contact_id": 1}', ["queue"])
            return True

        raw = await closed_loop("raw", raw_write, concurrency=writers, warmup=1.0, duration=seconds)
        app = await closed_loop("app", app_write, concurrency=writers, warmup=1.0, duration=seconds)
        bare = await closed_loop("uow", uow_write, concurrency=writers, warmup=1.0, duration=seconds)
        old = await closed_loop("old", old_write, concurrency=writers, warmup=1.0, duration=seconds)

        # One more writer publishes and keeps its transaction open for the whole run: the others go on.
        held = conns[writers]
        held_tx = held.transaction()
        await held_tx.start()
        await held.execute(raw_sql, "contact.created", '{"contact_id": 2}', ["queue"])
        try:
            blocked = await closed_loop("app, one tx held open", app_write, concurrency=writers, warmup=0.5,
                                        duration=seconds)
            async with tenant_context(tenant):
                waiting = await event_log.has_unsafe_after((await event_log.bounds()).last)
        finally:
            await held_tx.rollback()
    finally:
        for conn in conns:
            await conn.close()

    ctx.record("raw asyncpg INSERT (nextval, tx default), baseline", round(raw.rate), "events/s",
               f"{writers} connections, BEGIN/INSERT/COMMIT; p50 {raw.pct(50):.2f} ms", errors=raw.errors)
    ctx.record("emit() in a tenant unit of work", round(app.rate), "events/s",
               f"{app.rate / raw.rate:.2f}x raw; p50 {app.pct(50):.2f} / p99 {app.pct(99):.2f} ms; target ≥ 3,000",
               errors=app.errors)
    ctx.record("tenant unit of work + the same INSERT by hand (no emit)", round(bare.rate), "events/s",
               f"{bare.rate / raw.rate:.2f}x raw: what the unit of work costs (pool, BEGIN, SET LOCAL, COMMIT); "
               f"p50 {bare.pct(50):.2f} ms", errors=bare.errors)
    ctx.record("old one-row counter (raw asyncpg, for reference)", round(old.rate), "events/s",
               f"{old.rate / raw.rate:.2f}x raw; the counter row is locked until COMMIT", errors=old.errors)
    ctx.record("emit() while another transaction holds a published event open", round(blocked.rate), "events/s",
               f"{blocked.rate / app.rate:.2f}x unblocked; its events wait for delivery ({waiting=}), writers do "
               "not", errors=blocked.errors)
