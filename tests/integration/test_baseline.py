"""The tenant baseline (tenants/baseline.sql): a schema made from it is exactly a schema made by the migrations, it is
current, a stale one still reaches head, and every shop made from it has its own secrets and nothing of another's."""

from __future__ import annotations

from typing import Any

from app.lib.db import TenantRef
from app.piccolo_conf import DB
from tenants import baseline, baseline_make, migrations, services
from tests.conftest import make_shop, unique_slug

NEWEST_ORDERS = "2026-12-01T06:00:00:000000"
"""A migration left out of the stale baseline below (it adds a column, so a missed one shows)."""


async def _new_schema(prefix: str) -> TenantRef:
    slug = unique_slug(prefix)
    tenant = TenantRef(id=0, slug=slug, schema=f"t_{slug}")
    async with DB.pool.acquire() as conn:
        await conn.execute(f'CREATE SCHEMA "{tenant.schema}"')
    return tenant


async def _describe(tenant: TenantRef, reread_on: TenantRef | None = None) -> dict[str, Any]:
    """The schema's description, its index and CHECK definitions as PostgreSQL reads them back (baseline.reread)."""
    async with DB.pool.acquire() as conn:
        return await baseline.reread(conn, (reread_on or tenant).schema, await baseline.describe(conn, tenant.schema))


def _assert_same(replayed: dict[str, Any], made: dict[str, Any]) -> None:
    assert replayed.keys() == made.keys()
    for part in replayed:  # part by part, so a failure names what drifted
        assert made[part] == replayed[part], f"{part} differs between the baseline and the migrations"


async def test_the_baseline_makes_exactly_the_schema_the_migrations_make(fx_db: str, monkeypatch: Any) -> None:
    monkeypatch.setattr(migrations, "_FRESH_PLANS", {})  # the slow way for real: every migration's own code
    replayed, made = await _new_schema("rep"), await _new_schema("snap")
    await services.migrate_tenant(replayed, use_baseline=False)
    async with DB.pool.acquire() as conn:
        assert await migrations._usable_baseline(conn, migrations.tenant_apps()) is not None
    calls: list[int] = []
    original = migrations._apply

    async def counted(manager: Any) -> None:
        calls.append(1)
        await original(manager)

    monkeypatch.setattr(migrations, "_apply", counted)
    ran = await services.migrate_tenant(made)
    assert not calls, "a schema made from a current baseline runs no migration code"
    assert len(ran) == len(migrations.head(migrations.tenant_apps()))
    a, b = await _describe(replayed, reread_on=made), await _describe(made)
    assert a["columns"] and a["indexes"] and a["constraints"] and a["triggers"] and a["functions"] and a["data"]
    _assert_same(a, b)
    assert await services.migrate_tenant(made) == []  # at head: a re-run does nothing


async def test_the_committed_baseline_is_current(fx_db: str) -> None:
    snapshot = baseline.load()
    assert snapshot is not None, "tenants/baseline.sql is missing: run `make baseline`"
    missing = migrations.head(migrations.tenant_apps()) - snapshot.migrations
    assert not missing, f"tenants/baseline.sql is stale (lacks {sorted(missing)}): run `make baseline` and commit it"
    assert not baseline.stale(await baseline_make.generate()), "tenants/baseline.sql is stale: run `make baseline`"
    assert {s.removeprefix("t_") for s in baseline.REFERENCE_SCHEMAS} <= services.RESERVED_SLUGS


async def test_a_stale_baseline_runs_the_newer_migrations_after_it(fx_db: str, monkeypatch: Any) -> None:
    full = migrations.migration_modules

    def without_newest(app: str) -> Any:
        return tuple(m for m in full(app) if (app, m[0]) != ("orders", NEWEST_ORDERS))

    monkeypatch.setattr(migrations, "migration_modules", without_newest)
    monkeypatch.setattr(migrations, "_FRESH_PLANS", {})  # the plan recorded earlier in this process has it all
    old = baseline.parse(await baseline_make.generate())
    monkeypatch.setattr(migrations, "migration_modules", full)
    assert old is not None and ("orders", NEWEST_ORDERS) not in old.migrations
    assert "category" not in old.script.split("CREATE TABLE order_item (", 1)[1].split(");", 1)[0]
    reference, made = await _new_schema("cur"), await _new_schema("old")
    await services.migrate_tenant(reference)  # from the committed baseline
    monkeypatch.setattr(baseline, "load", lambda: old)
    await services.migrate_tenant(made)  # from the stale one, then the orders migration it lacks
    _assert_same(await _describe(made), await _describe(reference))
    async with DB.pool.acquire() as conn:
        assert await conn.fetchval(f'SELECT count(*) FROM "{made.schema}".migration WHERE name = $1',
                                   NEWEST_ORDERS) == 1


def test_the_baseline_fits_a_database_only_with_the_extensions_the_migrations_look_at() -> None:
    made_with = baseline.Baseline(frozenset(), frozenset({"plpgsql", "pg_trgm"}), "")
    assert baseline.fits(made_with, frozenset({"plpgsql", "pg_trgm"}))
    assert baseline.fits(made_with, frozenset({"plpgsql", "pg_trgm", "pg_stat_statements"}))
    assert not baseline.fits(made_with, frozenset({"plpgsql"}))  # no trigram indexes there: the migrations run
    without = baseline.Baseline(frozenset(), frozenset({"plpgsql"}), "")
    assert not baseline.fits(without, frozenset({"plpgsql", "pg_trgm"}))  # the migrations would add them


async def test_shops_made_from_the_baseline_share_nothing(fx_client: Any) -> None:
    first, second = await make_shop("bsa"), await make_shop("bsb")
    async with DB.pool.acquire() as conn:
        salts = [await conn.fetchval(f'SELECT salt FROM "{s.tenant.schema}".consent_salt') for s in (first, second)]
        assert salts[0] and salts[1] and salts[0] != salts[1], "each shop gets its own consent salt"
    resp = await fx_client.post(f"/t/{first.slug}/api/v1/contacts", json={"name": "Only in the first"},
                                headers=first.auth)
    assert resp.status_code == 201, resp.text
    # The second shop's schema, made from the same script, holds nothing of the first's, and the first's key is
    # refused there.
    resp = await fx_client.get(f"/t/{second.slug}/api/v1/contacts", headers=second.auth)
    assert resp.status_code == 200 and "Only in the first" not in resp.text
    resp = await fx_client.get(f"/t/{second.slug}/api/v1/me", headers=first.auth)
    assert resp.status_code in (401, 404)
