"""`switchboard migrate` over many tenant schemas: per-schema progress, failures isolated, re-runs resume."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

from app.piccolo_conf import DB
from tenants import migrations
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
    second = await asyncio.to_thread(_cli, "migrate")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 failed" in second.stdout
    assert await _has_trigger_migration(broken.tenant.schema)


async def test_each_schema_keeps_its_own_migration_table(fx_db: str) -> None:
    a, b = await make_shop("own"), await make_shop("own")
    from tenants import services

    assert await services.pending_for(a.tenant) == []
    async with DB.pool.acquire() as conn:
        await conn.execute(f'DELETE FROM "{a.tenant.schema}".migration WHERE name = $1', TRIGGER_MIGRATION)
    assert await services.pending_for(a.tenant) == [("accounts", TRIGGER_MIGRATION)]
    assert await services.pending_for(b.tenant) == []
    heads = migrations.head(migrations.TENANT_APPS)
    assert ("accounts", TRIGGER_MIGRATION) in heads


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
