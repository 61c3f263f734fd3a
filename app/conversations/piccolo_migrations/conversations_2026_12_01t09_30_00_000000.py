"""Drop indexes another index of the same table already covers (issue #15: every index is one more b-tree build,
file and fsync in each of 10,000 new tenant schemas, and one more write on every insert). Each one dropped, and the
index that serves its queries instead (the same columns first, the same predicate):

- conversation_handler_open: served by conversation_assigned_open (assigned_to) WHERE status IN ('active', 'wrapup'), the same index;
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T09:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "duplicate index: conversation_handler_open is conversation_assigned_open again"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="conversations", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            DROP INDEX IF EXISTS conversation_handler_open;
        """)

    manager.add_raw(run)
    return manager
