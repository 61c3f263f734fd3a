"""Per-process caches keyed by tenant stay bounded (a process serving 10,000 shops keeps a flat RSS) and still
answer each tenant with its own entry."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from app.chat import services as chat
from app.chat.tables import ChatSettings
from app.lib import db
from app.lib.db import resolve_active_cached, tenant_context
from app.lib.lru import LRU
from app.piccolo_conf import DB
from tests.conftest import ShopFixture, make_shop


def test_lru_keeps_the_most_recently_used_keys() -> None:
    cache: LRU[str, int] = LRU(2)
    cache["a"], cache["b"] = 1, 2
    assert cache.get("a") == 1  # a is now the most recently used
    cache["c"] = 3
    assert len(cache) == 2 and "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3
    assert cache.get("b", -1) == -1 and cache.pop("a") == 1 and list(cache) == ["c"]
    with pytest.raises(ValueError, match="maxsize"):
        LRU(0)


async def test_chat_settings_cache_is_bounded_and_answers_each_tenant_with_its_own(fx_db: str,
                                                                                   monkeypatch: Any) -> None:
    shops = [await make_shop("lru") for _ in range(3)]
    for shop in shops:
        async with tenant_context(shop.tenant):
            await ChatSettings.insert(ChatSettings(allowed_origins=[f"https://{shop.slug}.example"],
                                                   greeting=f"Hello from {shop.slug}"))
    cache: LRU[str, Any] = LRU(2)
    monkeypatch.setattr(chat, "_settings_cache", cache)
    for _ in range(3):
        for shop in shops:
            async with tenant_context(shop.tenant):
                got = await chat.cached_settings()
            assert got["greeting"] == f"Hello from {shop.slug}"
            assert got["allowed_origins"] == [f"https://{shop.slug}.example"]
            assert len(cache) <= 2
    first, second, third = shops
    assert first.slug not in cache and second.slug in cache and third.slug in cache
    # A cached tenant's entry is its own, and one that was forgotten is read again from its own schema.
    async with tenant_context(third.tenant):
        assert (await chat.cached_settings())["greeting"] == f"Hello from {third.slug}"
    async with tenant_context(first.tenant):
        assert (await chat.cached_settings())["greeting"] == f"Hello from {first.slug}"
    assert first.slug in cache and second.slug not in cache


async def _registered(prefix: str, n: int, schema: str) -> list[Any]:
    """n registry rows (active tenants) whose work runs in `schema`, one real shop's: the per-tenant caches are keyed
    by the tenant's slug, so n cheap tenants fill them as n shops would. Removed again by the caller."""
    from app.lib.db import TenantRef

    slugs = [f"{prefix}_{i:04d}" for i in range(n)]
    async with DB.pool.acquire() as conn:
        rows = await conn.fetch(
            "INSERT INTO public.tenant (slug, schema_name, name, status, plan, created_at) "
            "SELECT s, 't_' || s, s, 'active', 'trial', now() FROM unnest($1::text[]) AS s RETURNING id, slug", slugs)
    return [TenantRef(id=r["id"], slug=r["slug"], schema=schema, name=r["slug"]) for r in rows]


async def test_per_tenant_caches_stay_bounded_over_300_tenants(fx_shop: ShopFixture, monkeypatch: Any) -> None:
    """A process that serves 300 tenants keeps at most each cache's bound, and every answer is the tenant's own."""
    from app.lib import ratelimit
    from app.lib.engine import DB as ENGINE

    tenants = await _registered(f"lru{secrets.token_hex(2)}", 300, fx_shop.tenant.schema)
    try:
        # The slug -> tenant map behind every request (app.lib.db.resolve_active_cached).
        monkeypatch.setattr(db, "_tenant_cache", LRU(50))
        for t in tenants:
            got = await resolve_active_cached(t.slug)
            assert got is not None and (got.slug, got.id) == (t.slug, t.id)
            assert len(db._tenant_cache) <= 50
        assert tenants[-1].slug in db._tenant_cache and tenants[0].slug not in db._tenant_cache
        assert db.TENANT_CACHE_MAX <= 10_000

        # Chat settings per tenant (read by every widget call).
        monkeypatch.setattr(chat, "_settings_cache", LRU(50))
        for t in tenants:
            async with tenant_context(t):
                await chat.cached_settings()
            assert len(chat._settings_cache) <= 50
        assert chat.SETTINGS_CACHED <= 10_000

        # The API keys' rate limiter in memory (two logs per tenant): above MAX_KEYS logs, the idle ones go once a
        # window, so it holds about two windows' worth.
        clock = [1_000.0]
        limiter = ratelimit.Limiter(100, 60.0, name="bench", redis_url="", tenant_limit=1000,
                                    clock=lambda: clock[0])
        monkeypatch.setattr(ratelimit, "MAX_KEYS", 100)
        for t in tenants:
            await limiter.check(t.slug, "key")
            clock[0] += 1.0  # a tenant a second: the logs of a minute ago are idle
            assert len(limiter._hits) <= 100 + 2 * 2 * 61
        assert f"{tenants[-1].slug}|key" in limiter._hits and f"{tenants[0].slug}|key" not in limiter._hits

        # Pooled connections are replaced after DB_POOL_MAX_SCHEMAS schemas: a PostgreSQL session never drops the
        # cache entries of the tables it opened in each schema, so one that lived through every tenant would hold
        # them all. One busy tenant keeps its connection (and the plans of its statements).
        import dataclasses

        from app.lib.db import TenantRef
        from app.settings import get_settings

        settings = get_settings()
        assert ENGINE.pool is not None and settings.db.pool_max_schemas <= 1_000
        small = dataclasses.replace(settings, db=dataclasses.replace(settings.db, pool_max_schemas=4))
        monkeypatch.setattr(db, "get_settings", lambda: small)  # the same rule at a size a test reaches
        pids: set[int] = set()
        for i in range(45):  # the first few may meet connections that served other tests' schemas: replaced
            async with tenant_context(tenants[0]) as uow:
                pid = await uow.connection.fetchval("SELECT pg_backend_pid()")
            if i >= 5:
                pids.add(pid)
        assert len(pids) == 1, "one schema: the connection is kept"
        for i in range(40):  # as many schemas (a search_path may name a schema that does not exist)
            async with tenant_context(TenantRef(id=0, slug=f"nx{i}", schema=f"t_nx_schema_{i}", name="")) as uow:
                pids.add(await uow.connection.fetchval("SELECT pg_backend_pid()"))
        assert len(pids) >= 40 // 4, "connections are replaced once they served DB_POOL_MAX_SCHEMAS schemas"
    finally:
        async with DB.pool.acquire() as conn:
            await conn.execute("DELETE FROM public.tenant WHERE id = ANY($1::int[])", [t.id for t in tenants])
