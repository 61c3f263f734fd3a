"""Index for reading a contact's timeline newest first, page by page."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-23T01:12:40:000000"
VERSION = "1.38.0"
DESCRIPTION = "timeline index"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="timeline", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute(
            "CREATE INDEX interaction_contact_time ON interaction (contact, occurred_at DESC, id DESC);"
            "CREATE INDEX interaction_contact_channel_time ON interaction (contact, channel, occurred_at DESC, id DESC);")

    manager.add_raw(run)
    return manager
