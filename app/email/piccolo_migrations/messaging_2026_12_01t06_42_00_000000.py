"""Outbound email carries extra headers of its own (a campaign's RFC 8058 List-Unsubscribe pair)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T06:42:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "email message headers"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="messaging", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute(
            "ALTER TABLE email_message ADD COLUMN IF NOT EXISTS headers jsonb NOT NULL DEFAULT '{}'")

    manager.add_raw(run)
    return manager
