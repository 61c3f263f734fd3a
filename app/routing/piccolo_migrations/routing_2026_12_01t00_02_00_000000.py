"""The router's claim reads waiting items in routing order straight from an index (no sort of the whole queue)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T00:02:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "routing order index"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="routing", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE INDEX IF NOT EXISTS conversation_routing_order ON conversation
                (queue, ((created_at AT TIME ZONE 'UTC') - priority * interval '60 seconds'), id)
                WHERE status = 'waiting';
        """)

    manager.add_raw(run)
    return manager
