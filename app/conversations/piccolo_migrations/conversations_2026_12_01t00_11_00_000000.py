"""Wrap-up per queue: timed wrap-up seconds, a required disposition, and the queue's disposition codes."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T00:11:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "queue wrap-up settings and disposition codes"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="conversations", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            ALTER TABLE queue ADD COLUMN IF NOT EXISTS wrapup_seconds integer NOT NULL DEFAULT 0
                CHECK (wrapup_seconds >= 0 AND wrapup_seconds <= 3600);
            ALTER TABLE queue ADD COLUMN IF NOT EXISTS wrapup_required boolean NOT NULL DEFAULT false;
            CREATE TABLE IF NOT EXISTS queue_disposition (
                id serial PRIMARY KEY,
                queue integer NOT NULL REFERENCES queue (id) ON DELETE CASCADE,
                code varchar(50) NOT NULL,
                label varchar(100) NOT NULL,
                position integer NOT NULL DEFAULT 0);
            CREATE UNIQUE INDEX IF NOT EXISTS queue_disposition_once ON queue_disposition (queue, code);
            CREATE INDEX IF NOT EXISTS conversation_handler_open ON conversation (assigned_to)
                WHERE status IN ('active', 'wrapup');
        """)

    manager.add_raw(run)
    return manager
