"""Every workspace starts with a General queue, and indexes for the live queue and per-operator lists."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-23T01:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "default queue and indexes"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="conversations", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            INSERT INTO queue (key, name, roles, position, archived) VALUES ('general', 'General', '{}', 0, false)
                ON CONFLICT (key) DO NOTHING;
            CREATE INDEX conversation_waiting ON conversation (queue, created_at) WHERE status = 'waiting';
            CREATE INDEX conversation_assigned_open ON conversation (assigned_to) WHERE status IN ('active', 'wrapup');
            CREATE INDEX conversation_contact ON conversation (contact, created_at DESC);
        """)

    manager.add_raw(run)
    return manager
