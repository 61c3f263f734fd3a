"""The contact's language: what the portal, chat and emails speak to them ("" is the workspace's)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-30T14:41:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "contact language"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="contacts", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute(
            "ALTER TABLE contact ADD COLUMN IF NOT EXISTS language varchar(8) NOT NULL DEFAULT ''")

    manager.add_raw(run)
    return manager
