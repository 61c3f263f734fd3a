"""Units of work as the hot path runs them: BEGIN and SET LOCAL in one round trip, savepoints, rollback, a clean
connection afterwards; and the per-process slug -> tenant cache (forgotten on suspend and rename)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from app.lib import db
from app.lib.db import NO_TENANT_SEARCH_PATH, forget_tenant, resolve_active_cached, tenant_context
from app.piccolo_conf import DB
from tests.conftest import ShopFixture, make_shop


class _Refused(Exception):
    pass


async def test_unit_of_work_runs_in_the_tenant_schema_with_working_savepoints(fx_shop: ShopFixture) -> None:
    async with tenant_context(fx_shop.tenant) as uow:
        conn = uow.connection
        assert conn.is_in_transaction()
        assert await conn.fetchval("SHOW search_path") == fx_shop.tenant.schema
        await conn.execute("CREATE TABLE probe (n int)")
        await conn.execute("INSERT INTO probe VALUES (1)")
        with pytest.raises(_Refused):
            async with conn.transaction():  # a savepoint inside the unit of work
                await conn.execute("INSERT INTO probe VALUES (2)")
                raise _Refused
        async with conn.transaction():
            await conn.execute("INSERT INTO probe VALUES (3)")
    async with tenant_context(fx_shop.tenant) as uow:
        assert [r["n"] for r in await uow.connection.fetch("SELECT n FROM probe ORDER BY n")] == [1, 3]
        await uow.connection.execute("DROP TABLE probe")
    async with DB.pool.acquire() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SHOW search_path") == NO_TENANT_SEARCH_PATH


async def test_an_error_rolls_the_unit_of_work_back_and_the_connection_comes_back_clean(fx_shop: ShopFixture) -> None:
    with pytest.raises(_Refused):
        async with tenant_context(fx_shop.tenant) as uow:
            await uow.connection.execute("CREATE TABLE probe_gone (n int)")
            raise _Refused
    with pytest.raises(asyncpg.UndefinedTableError):
        async with tenant_context(fx_shop.tenant) as uow:
            await uow.connection.execute("SELECT 1 FROM probe_gone")
    # every connection of the pool is usable again: outside a transaction, no tenant selected
    conns = [await DB.pool.acquire() for _ in range(3)]
    try:
        for conn in conns:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SHOW search_path") == NO_TENANT_SEARCH_PATH
    finally:
        for conn in conns:
            await DB.pool.release(conn)


async def test_units_of_work_of_two_tenants_side_by_side_read_their_own_rows(
    fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    async def owner(shop: ShopFixture) -> tuple[str, str]:
        async with tenant_context(shop.tenant) as uow:
            await asyncio.sleep(0)
            return shop.email, await uow.connection.fetchval("SELECT email FROM app_user ORDER BY id LIMIT 1")

    pairs = await asyncio.gather(*(owner(s) for _ in range(20) for s in (fx_shop, fx_other_shop)))
    assert all(expected == got for expected, got in pairs)


async def test_tenant_cache_answers_per_slug_and_forgets_a_suspension(fx_client: Any, fx_db: str) -> None:
    from tenants import services

    a, b = await make_shop("cache_a"), await make_shop("cache_b")
    ta, tb = await resolve_active_cached(a.slug), await resolve_active_cached(b.slug)
    assert ta is not None and tb is not None
    assert (ta.slug, ta.schema, ta.id) == (a.slug, a.tenant.schema, a.tenant.id)
    assert (tb.slug, tb.schema, tb.id) == (b.slug, b.tenant.schema, b.tenant.id)
    assert await resolve_active_cached("never_there") is None
    await services.set_status(a.slug, "suspended")
    assert await resolve_active_cached(a.slug) is None
    assert (await fx_client.get(f"/t/{a.slug}/api/v1/me", headers=a.auth)).status_code == 404
    assert (await fx_client.get(f"/t/{b.slug}/api/v1/me", headers=b.auth)).status_code == 200
    await services.set_status(a.slug, "active")
    assert (await fx_client.get(f"/t/{a.slug}/api/v1/me", headers=a.auth)).status_code == 200


async def test_a_suspension_by_another_process_shows_once_the_entry_expires(
    fx_client: Any, fx_shop: ShopFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/me", headers=fx_shop.auth)).status_code == 200
    async with DB.pool.acquire() as conn:  # what `switchboard tenants suspend` in another process writes
        await conn.execute("UPDATE public.tenant SET status = 'suspended' WHERE slug = $1", fx_shop.slug)
    try:
        monkeypatch.setitem(db._tenant_cache, fx_shop.slug, (0.0, db._tenant_cache[fx_shop.slug][1]))  # expired
        assert (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/me", headers=fx_shop.auth)).status_code == 404
    finally:
        async with DB.pool.acquire() as conn:
            await conn.execute("UPDATE public.tenant SET status = 'active' WHERE slug = $1", fx_shop.slug)


async def test_a_rename_inside_a_unit_of_work_is_forgotten_after_it_commits(fx_shop: ShopFixture) -> None:
    slug = fx_shop.slug
    assert (await resolve_active_cached(slug)) is not None
    async with tenant_context(fx_shop.tenant) as uow:
        await uow.connection.execute("UPDATE public.tenant SET name = 'Renamed shop' WHERE slug = $1", slug)
        forget_tenant(slug)
        # a request served meanwhile still reads the committed (old) row, and remembers it
        racing = await asyncio.create_task(resolve_active_cached(slug))
        assert racing is not None and racing.name != "Renamed shop"
    fresh = await resolve_active_cached(slug)
    assert fresh is not None and fresh.name == "Renamed shop"


async def test_the_pool_skips_the_reset_query_only_after_a_committed_unit_of_work(
    fx_shop: ShopFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    full_resets: list[object] = []
    original = asyncpg.connection.Connection.reset

    async def counting(self: Any, *, timeout: float | None = None) -> None:
        full_resets.append(self)
        await original(self, timeout=timeout)

    monkeypatch.setattr(asyncpg.connection.Connection, "reset", counting)
    async with tenant_context(fx_shop.tenant):
        pass
    assert full_resets == []
    with pytest.raises(_Refused):
        async with tenant_context(fx_shop.tenant) as uow:
            failed = uow.connection._con
            raise _Refused
    assert full_resets == [failed]
    async with DB.pool.acquire() as conn:  # a pooled connection used outside a unit of work
        used = conn._con
    assert full_resets == [failed, used]
    # A stateless statement (the publisher's pg_notify) skips it; the same block failing, or leaving a transaction
    # open, does not.
    async with db.stateless() as conn:
        await conn.execute("SELECT pg_notify('sb_test_channel', 'x')")
    assert full_resets == [failed, used]
    with pytest.raises(_Refused):
        async with db.stateless() as conn:
            broken = conn._con
            raise _Refused
    assert full_resets == [failed, used, broken]
    async with db.stateless() as conn:
        await conn.execute("BEGIN")
        left_open = conn._con
    assert full_resets == [failed, used, broken, left_open]
    # Any other use of a pooled connection gets asyncpg's full reset: session settings go back to the startup ones.
    conn = await db.raw_connect()
    try:
        await conn.execute("SET application_name = 'left_behind'")
        await db._reset_on_release(conn)
        assert await conn.fetchval("SHOW application_name") != "left_behind"
    finally:
        await conn.close()


async def test_a_tenant_gets_back_the_connection_that_last_served_it(
    fx_shop: ShopFixture, fx_other_shop: ShopFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Units of work of two tenants in turn each land on a connection of their own (db._SchemaAffineQueue): the
    statements a connection prepared keep the plans made under that tenant's search_path instead of being planned
    again at every switch. What they read stays their own."""
    import dataclasses

    assert isinstance(DB.pool._queue, db._SchemaAffineQueue)
    settings = db.get_settings()  # no connection replaced mid-test for the schemas it served in earlier tests
    unbounded = dataclasses.replace(settings, db=dataclasses.replace(settings.db, pool_max_schemas=10**9))
    monkeypatch.setattr(db, "get_settings", lambda: unbounded)

    async def pid_and_owner(shop: ShopFixture) -> tuple[int, str]:
        async with tenant_context(shop.tenant) as uow:
            return (await uow.connection.fetchval("SELECT pg_backend_pid()"),
                    await uow.connection.fetchval("SELECT email FROM app_user ORDER BY id LIMIT 1"))

    await asyncio.gather(*(pid_and_owner(s) for s in (fx_shop, fx_other_shop) for _ in range(3)))  # both warm
    seen: dict[str, set[int]] = {fx_shop.slug: set(), fx_other_shop.slug: set()}
    for _ in range(10):
        for shop in (fx_shop, fx_other_shop):
            pid, email = await pid_and_owner(shop)
            assert email == shop.email
            seen[shop.slug].add(pid)
    assert len(seen[fx_shop.slug]) == 1 and len(seen[fx_other_shop.slug]) == 1
    assert seen[fx_shop.slug] != seen[fx_other_shop.slug]

    # A unit of work outside any tenant (the pool as asyncpg hands it out) still works and leaves no schema behind.
    async with DB.pool.acquire() as conn:
        assert await conn.fetchval("SHOW search_path") == NO_TENANT_SEARCH_PATH


async def test_the_affine_queue_prefers_the_schema_then_an_unused_connection_then_the_longest_idle() -> None:
    class Holder:
        def __init__(self, con: Any, connected: bool = True) -> None:
            self._con = con
            self.connected = connected

        def is_connected(self) -> bool:
            return self.connected

    class Con:
        pass

    a, b, fresh = Con(), Con(), Con()
    db._LAST_SCHEMA[a] = "t_a"
    db._LAST_SCHEMA[b] = "t_b"
    queue = db._SchemaAffineQueue()
    old_b, new_a, unused, closed = Holder(b), Holder(a), Holder(fresh), Holder(None, connected=False)
    for h in (old_b, closed, unused, new_a):  # the last put is the most recently released
        queue.put_nowait(h)

    def take(schema: str | None) -> Any:
        token = db._WANTED_SCHEMA.set(schema)
        try:
            return queue.get_nowait()
        finally:
            db._WANTED_SCHEMA.reset(token)

    assert take("t_b") is old_b  # its own, though released long ago
    assert take("t_c") is unused  # nobody's yet
    assert take("t_c") is closed  # then a new connection
    queue.put_nowait(old_b)
    assert take("t_c") is new_a  # then the one idle longest (old_b was just put back)
    assert take(None) is old_b  # outside a schema: asyncpg's order


async def test_a_dead_pooled_connection_met_by_the_lookup_replaces_the_pool_and_asks_again(
    fx_shop: ShopFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the lookup meets the drop before the pool has noticed it (the server's goodbye not read yet), the query
    fails on the dead session: the pool's connections are replaced and the lookup asks once more."""
    real = db._tenant_row
    calls: list[str] = []
    expired: list[bool] = []

    async def first_one_dead(slug: str) -> Any:
        calls.append(slug)
        if len(calls) == 1:
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")
        return await real(slug)

    expire = asyncpg.Pool.expire_connections

    async def counted_expire(pool: asyncpg.Pool) -> None:
        expired.append(True)
        await expire(pool)

    monkeypatch.setattr(db, "_tenant_row", first_one_dead)
    monkeypatch.setattr(asyncpg.Pool, "expire_connections", counted_expire)
    got = await db.resolve_active(fx_shop.slug)
    assert got is not None and got.slug == fx_shop.slug
    assert calls == [fx_shop.slug, fx_shop.slug] and expired == [True]
