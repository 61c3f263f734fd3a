"""`switchboard migrate` over many tenant schemas: per-schema progress, failures isolated, re-runs resume."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import asyncpg
import pytest

from app.piccolo_conf import DB
from tenants import baseline, migrations
from tests.conftest import TEST_DSN, make_shop

TRIGGER_MIGRATION = "2026-11-23T00:58:00:000000"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": TEST_DSN, "COLUMNS": "200", "LANGUAGE": "en"}  # messages checked in English
    return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


async def _has_trigger_migration(schema: str) -> bool:
    async with DB.pool.acquire() as conn:
        return bool(await conn.fetchval(
            f'SELECT count(*) FROM "{schema}".migration WHERE name = $1', TRIGGER_MIGRATION))


async def test_migrate_fifty_tenants_with_one_broken(fx_db: str) -> None:
    shops = [await make_shop("mig") for _ in range(50)]
    broken = shops[17]
    async with DB.pool.acquire() as conn:
        for shop in shops:
            schema = shop.tenant.schema
            # Put every schema one migration behind head.
            await conn.execute(f'DROP TRIGGER audit_entry_no_change ON "{schema}".audit_entry; '
                               f'DROP FUNCTION "{schema}".audit_entry_append_only();')
            await conn.execute(f'DELETE FROM "{schema}".migration WHERE name = $1', TRIGGER_MIGRATION)
        # ...and break one so that the pending migration cannot apply there.
        await conn.execute(f'DROP TABLE "{broken.tenant.schema}".audit_entry')

    first = await asyncio.to_thread(_cli, "migrate", "--concurrency", "4")
    assert first.returncode == 1, first.stdout + first.stderr
    assert broken.slug in first.stdout and "1 failed" in first.stdout
    assert "relation \"audit_entry\" does not exist" in first.stdout
    for shop in shops:
        assert await _has_trigger_migration(shop.tenant.schema) == (shop is not broken), shop.slug

    # Repair the broken schema, re-run: it resumes and finishes; the others are a no-op.
    async with DB.pool.acquire() as conn:
        await conn.execute(f'CREATE TABLE "{broken.tenant.schema}".audit_entry (id serial PRIMARY KEY)')
    second = await asyncio.to_thread(_cli, "migrate", "--jobs", "2")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 failed" in second.stdout
    assert await _has_trigger_migration(broken.tenant.schema)


async def test_each_schema_keeps_its_own_migration_table(fx_db: str) -> None:
    a, b = await make_shop("own"), await make_shop("own")
    from tenants import services

    assert await services.pending_for(a.tenant) == []
    async with DB.pool.acquire() as conn:
        await conn.execute(f'DELETE FROM "{a.tenant.schema}".migration WHERE name = $1', TRIGGER_MIGRATION)
    try:
        assert await services.pending_for(a.tenant) == [("accounts", TRIGGER_MIGRATION)]
        assert await services.pending_for(b.tenant) == []
        heads = migrations.head(migrations.TENANT_APPS)
        assert ("accounts", TRIGGER_MIGRATION) in heads
    finally:  # put the row back: the migration's objects are there, and a later `migrate` in this database must not
        # try to create them again (test_i18n's CLI test migrates every schema and expects no failure)
        async with DB.pool.acquire() as conn:
            await conn.execute(f'INSERT INTO "{a.tenant.schema}".migration (name, app_name, ran_on) '
                               f'SELECT name, app_name, ran_on FROM "{b.tenant.schema}".migration WHERE name = $1',
                               TRIGGER_MIGRATION)
        assert await services.pending_for(a.tenant) == []


CATALOGUE = """
SELECT 'column', table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' '
       || coalesce(column_default, '') FROM information_schema.columns WHERE table_schema = $1
UNION ALL SELECT 'index', replace(indexdef, $1, 'S') FROM pg_indexes WHERE schemaname = $1
UNION ALL SELECT 'constraint', c.conrelid::regclass::text || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
       FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1
UNION ALL SELECT 'trigger', t.tgname || ' ' || t.tgrelid::regclass::text FROM pg_trigger t JOIN pg_class r
       ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace WHERE n.nspname = $1 AND NOT t.tgisinternal
UNION ALL SELECT 'function', p.proname || ' ' || md5(p.prosrc) FROM pg_proc p JOIN pg_namespace n
       ON n.oid = p.pronamespace WHERE n.nspname = $1
"""


async def _catalogue(schema: str) -> tuple[list[tuple[str, str]], dict[str, int], list[tuple[str, str]]]:
    """A schema's shape (columns, indexes, constraints, triggers, functions), seeded rows and migration rows."""
    async with DB.pool.acquire() as conn:
        await conn.execute(f'SET search_path TO "{schema}"')
        try:
            shape = sorted((r[0], r[1].replace(f'"{schema}".', "").replace(f"{schema}.", ""))
                           for r in await conn.fetch(CATALOGUE, schema))
            seeded = {t: await conn.fetchval(f'SELECT count(*) FROM "{schema}".{t}')
                      for t in ("queue", "order_status", "deal_stage")}
            applied = sorted((r["app_name"], r["name"]) for r in await conn.fetch(
                f'SELECT app_name, name FROM "{schema}".migration'))
        finally:
            await conn.execute("RESET search_path")
    return shape, seeded, applied


async def test_a_new_schema_replays_what_the_migrations_did(fx_db: str, monkeypatch: Any) -> None:
    """The first empty schema of a process runs every migration and records its SQL; the next ones replay it. Both
    end with the same tables, columns, indexes, constraints, triggers, seeded rows and migration rows (the path
    taken where the baseline does not fit: tests/integration/test_baseline.py covers the baseline)."""
    monkeypatch.setattr(baseline, "load", lambda: None)
    monkeypatch.setattr(migrations, "_FRESH_PLANS", {})
    recorded = await make_shop("plan")
    assert migrations.fresh_plan(migrations.tenant_apps())
    replays: list[int] = []
    replay = migrations._replay

    async def counted(connection: Any, plan: Any) -> None:
        replays.append(len(plan))
        await replay(connection, plan)

    monkeypatch.setattr(migrations, "_replay", counted)
    replayed = await make_shop("plan")
    assert replays and replays[0] > 50
    first, second = await _catalogue(recorded.tenant.schema), await _catalogue(replayed.tenant.schema)
    assert first == second
    assert len(first[2]) == len(migrations.head(migrations.TENANT_APPS)) and first[1]["queue"] == 1


async def test_a_replay_that_fails_midway_leaves_the_schema_empty_and_a_rerun_finishes(
        fx_db: str, monkeypatch: Any) -> None:
    from app.lib.db import TenantRef
    from tenants import services

    monkeypatch.setattr(baseline, "load", lambda: None)  # the recorded plan's path
    shop = await make_shop("half")  # records the plan in this process if no earlier test did
    plan = migrations.fresh_plan(migrations.tenant_apps())
    assert plan is not None
    [key] = [k for k in migrations._FRESH_PLANS if k[0] == migrations.tenant_apps()]
    schema = shop.tenant.schema.replace("t_", "t_z", 1)
    async with DB.pool.acquire() as conn:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    tenant = TenantRef(id=shop.tenant.id, slug=shop.slug, schema=schema, name="half")
    broken = (*plan[: len(plan) // 2], ("SELECT 1 / 0", ()), *plan[len(plan) // 2:])
    monkeypatch.setitem(migrations._FRESH_PLANS, key, broken)
    with pytest.raises(asyncpg.DivisionByZeroError):
        await services.migrate_tenant(tenant)
    async with DB.pool.acquire() as conn:
        assert await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", schema) == 0
    monkeypatch.setitem(migrations._FRESH_PLANS, key, plan)
    assert len(await services.migrate_tenant(tenant)) == len(migrations.head(migrations.TENANT_APPS))
    assert (await _catalogue(schema))[0] == (await _catalogue(shop.tenant.schema))[0]
    async with DB.pool.acquire() as conn:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_tenants_cli_list_create_suspend(fx_db: Any) -> None:
    created = _cli("tenants", "create", "cli_shop_one", "--name", "CLI Shop", "--owner-email", "o@cli.example",
                   "--owner-password", "a long enough passphrase")
    assert created.returncode == 0, created.stdout + created.stderr
    assert "Owner API key (shown once): sbk_" in created.stdout
    again = _cli("tenants", "create", "cli_shop_one", "--name", "CLI Shop", "--owner-email", "o@cli.example",
                 "--owner-password", "a long enough passphrase")
    assert again.returncode == 1 and "already taken" in again.stdout
    listed = _cli("tenants", "list")
    assert "cli_shop_one" in listed.stdout and "active" in listed.stdout
    suspended = _cli("tenants", "suspend", "cli_shop_one")
    assert suspended.returncode == 0
    assert "suspended" in _cli("tenants", "list").stdout
    assert _cli("tenants", "suspend", "no_such_tenant").returncode == 1


async def _behind(schema: str) -> None:
    """Put a schema one migration behind head (as test_migrate_fifty_tenants_with_one_broken does)."""
    async with DB.pool.acquire() as conn:
        await conn.execute(f'DROP TRIGGER audit_entry_no_change ON "{schema}".audit_entry; '
                           f'DROP FUNCTION "{schema}".audit_entry_append_only();')
        await conn.execute(f'DELETE FROM "{schema}".migration WHERE name = $1', TRIGGER_MIGRATION)


async def test_the_survey_finds_the_schema_that_is_behind_and_migrates_only_it(fx_db: str, monkeypatch: Any) -> None:
    """A no-op `migrate` opens no transaction per schema: one survey reads every schema's `migration` table. A
    schema put behind is found among those at head and migrated; several behind go in one transaction, and a broken
    one in that batch fails alone while the others of its batch are migrated."""
    from tenants import provisioning, services

    shops = [await make_shop("survey") for _ in range(4)]
    ours = {s.tenant.schema: s for s in shops}
    touched: list[list[str]] = []
    single, several = services.migrate_tenant, services.migrate_tenants

    async def spy_single(tenant: Any) -> list[str]:
        touched.append([tenant.schema])
        return await single(tenant)

    async def spy_several(tenants: list[Any]) -> list[list[str]]:
        touched.append([t.schema for t in tenants])
        return await several(tenants)

    monkeypatch.setattr(services, "migrate_tenant", spy_single)
    monkeypatch.setattr(services, "migrate_tenants", spy_several)

    def ours_touched() -> list[list[str]]:
        return [[s for s in group if s in ours] for group in touched if any(s in ours for s in group)]

    report = await provisioning.migrate_all()
    assert {s.slug for s in shops} <= set(report.up_to_date)
    assert ours_touched() == []

    a, b, c, d = shops
    await _behind(b.tenant.schema)
    touched.clear()
    report = await provisioning.migrate_all()
    assert b.slug in report.migrated and {a.slug, c.slug, d.slug} <= set(report.up_to_date)
    assert ours_touched() == [[b.tenant.schema]]
    assert await _has_trigger_migration(b.tenant.schema)

    for shop in (a, c, d):
        await _behind(shop.tenant.schema)
    async with DB.pool.acquire() as conn:
        await conn.execute(f'DROP TABLE "{c.tenant.schema}".audit_entry')
    touched.clear()
    report = await provisioning.migrate_all()
    assert {a.slug, d.slug} <= set(report.migrated) and b.slug in report.up_to_date
    assert c.slug in report.failed and 'relation "audit_entry" does not exist' in report.failed[c.slug]
    batched = [group for group in ours_touched() if len(group) > 1]
    assert batched and {a.tenant.schema, c.tenant.schema, d.tenant.schema} <= set(batched[0])
    for shop in (a, b, d):
        assert await _has_trigger_migration(shop.tenant.schema), shop.slug
    assert not await _has_trigger_migration(c.tenant.schema)

    async with DB.pool.acquire() as conn:  # repaired, the next run finishes it; the rest stays a no-op
        await conn.execute(f'CREATE TABLE "{c.tenant.schema}".audit_entry (id serial PRIMARY KEY)')
    touched.clear()
    report = await provisioning.migrate_all()
    assert c.slug in report.migrated and ours_touched() == [[c.tenant.schema]]
    assert not report.failed.get(c.slug)


async def test_the_survey_reads_the_same_without_xml_support(fx_db: str, monkeypatch: Any) -> None:
    """PostgreSQL built without libxml (the embedded one of `make run`) refuses query_to_xml: the survey then reads
    the schemas with one UNION ALL and finds the same counts, the schema put behind included."""
    from app.lib.engine import DB
    from tenants import migrations

    shops = [await make_shop("survey_noxml") for _ in range(3)]
    await _behind(shops[1].tenant.schema)
    schemas = [s.tenant.schema for s in shops]
    apps = migrations.tenant_apps()
    with_xml = await migrations.survey(schemas, apps)
    monkeypatch.setitem(migrations._XML, str(DB.config.get("dsn", "")), False)
    without = await migrations.survey(schemas, apps)
    assert without == with_xml
    full = len(migrations.head(apps))
    assert without[schemas[0]] == without[schemas[2]] == full and without[schemas[1]] < full
