"""Languages and time zones: each user's own choice ("" follows the workspace), the workspace's language."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-30T14:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "user language and time zone, workspace language"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            ALTER TABLE app_user ADD COLUMN IF NOT EXISTS language varchar(8) NOT NULL DEFAULT '';
            ALTER TABLE app_user ADD COLUMN IF NOT EXISTS timezone varchar(64) NOT NULL DEFAULT '';
            ALTER TABLE workspace ADD COLUMN IF NOT EXISTS language varchar(8) NOT NULL DEFAULT '';
        """)

    manager.add_raw(run)
    return manager
