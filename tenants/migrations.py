"""Piccolo migrations, run schema by schema: each schema keeps its own `migration` table.

Platform apps migrate `public` once; tenant apps migrate every tenant schema. A schema is migrated in one
transaction (Piccolo's DDL nests into it), so a failure leaves that schema exactly as it was.
"""

from __future__ import annotations

import functools
import inspect
from types import ModuleType

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.tables import Migration
from piccolo.conf.apps import Finder

PLATFORM_APPS = ("platform",)
# "messaging" is the Piccolo app of package app.email (its old name, kept so applied migrations stay recognised).
TENANT_APPS = ("accounts", "contacts", "timeline", "realtime", "conversations", "orders", "deals", "telephony",
               "messaging", "chat")


@functools.cache
def migration_modules(app_name: str) -> tuple[tuple[str, ModuleType], ...]:
    """The app's migration modules, oldest first (imported once per process)."""
    app_config = Finder().get_app_config(app_name)
    modules = BaseMigrationManager().get_migration_modules(app_config.resolved_migrations_folder_path)
    return tuple(sorted(modules.items()))


def head(apps: tuple[str, ...]) -> set[tuple[str, str]]:
    return {(app, mid) for app in apps for mid, _ in migration_modules(app)}


async def applied(apps: tuple[str, ...]) -> set[tuple[str, str]]:
    """What the current schema has applied (call inside its unit of work)."""
    if not await _migration_table_exists():
        return set()
    rows = await Migration.select(Migration.app_name, Migration.name).where(Migration.app_name.is_in(list(apps)))
    return {(r["app_name"], r["name"]) for r in rows}


async def pending(apps: tuple[str, ...]) -> list[tuple[str, str]]:
    return sorted(head(apps) - await applied(apps), key=lambda x: (apps.index(x[0]), x[1]))


async def migrate_current_schema(apps: tuple[str, ...]) -> list[str]:
    """Bring the schema of the open unit of work to head for `apps`; return the migration ids applied."""
    await Migration.create_table(if_not_exists=True)
    done = await applied(apps)
    ran: list[str] = []
    for app in apps:
        for mid, module in migration_modules(app):
            if (app, mid) in done:
                continue
            manager = await module.forwards()
            if isinstance(manager, MigrationManager):
                await _apply(manager)
            await Migration.insert(Migration(name=mid, app_name=app))
            ran.append(f"{app}:{mid}")
    return ran


async def _apply(manager: MigrationManager) -> None:
    """MigrationManager.run() without its printing and its own transaction (we are inside ours)."""
    for raw in manager.raw:
        if inspect.iscoroutinefunction(raw):
            await raw()
        else:
            raw()
    await manager._run_add_tables(backwards=False)
    await manager._run_change_table_schema(backwards=False)
    await manager._run_rename_tables(backwards=False)
    await manager._run_add_columns(backwards=False)
    await manager._run_drop_columns(backwards=False)
    await manager._run_drop_tables(backwards=False)
    await manager._run_rename_columns(backwards=False)
    await manager._run_alter_columns(backwards=False)
    await manager._run_add_constraints(backwards=False)
    await manager._run_drop_constraints(backwards=False)


async def _migration_table_exists() -> bool:
    """Piccolo's table_exists() looks in every schema (see STACK_NOTES); this looks only at the current one."""
    rows = await Migration.raw("SELECT to_regclass('migration') IS NOT NULL AS present")
    return bool(rows[0]["present"])
