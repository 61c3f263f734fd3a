"""The contact's time zone: the times the portal, the chat widget and emails show them ("" is the browser's, or the
workspace's in emails)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-30T17:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "contact time zone"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="contacts", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute(
            "ALTER TABLE contact ADD COLUMN IF NOT EXISTS timezone varchar(64) NOT NULL DEFAULT ''")

    manager.add_raw(run)
    return manager
