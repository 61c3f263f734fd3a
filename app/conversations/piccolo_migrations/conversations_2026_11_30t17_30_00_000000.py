"""Conversation actions: snooze (status `snoozed` until a time), merge (pointer to the survivor), blocked addresses."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-30T17:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "snooze, merge pointer, blocked addresses"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="conversations", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            ALTER TABLE conversation ADD COLUMN IF NOT EXISTS snoozed_until timestamptz NULL;
            ALTER TABLE conversation ADD COLUMN IF NOT EXISTS merged_into integer NULL
                REFERENCES conversation (id) ON DELETE SET NULL;
            CREATE INDEX IF NOT EXISTS conversation_snoozed ON conversation (snoozed_until) WHERE status = 'snoozed';
            CREATE TABLE IF NOT EXISTS blocked_address (
                id serial PRIMARY KEY,
                address varchar(254) NOT NULL UNIQUE,
                kind varchar(10) NOT NULL DEFAULT 'other',
                reason varchar(300) NOT NULL DEFAULT '',
                blocked_by integer NULL REFERENCES app_user (id) ON DELETE SET NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            );
        """)

    manager.add_raw(run)
    return manager
