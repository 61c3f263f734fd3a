"""Onboarding that finishes the job: the wizard's finished steps and the shop's main currency."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-30T15:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "workspace onboarding steps and currency"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            ALTER TABLE workspace ADD COLUMN IF NOT EXISTS onboarding_steps varchar(16)[] NOT NULL DEFAULT '{}';
            ALTER TABLE workspace ADD COLUMN IF NOT EXISTS currency varchar(3) NOT NULL DEFAULT 'USD';
        """)

    manager.add_raw(run)
    return manager
