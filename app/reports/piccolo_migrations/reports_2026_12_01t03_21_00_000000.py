"""Reports: each user's digest choice (off, daily, weekly) and when their next digest leaves."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T03:21:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "report digest choices"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="reports", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE IF NOT EXISTS report_digest (
                "user" integer PRIMARY KEY REFERENCES app_user (id) ON DELETE CASCADE,
                frequency varchar(6) NOT NULL DEFAULT 'off' CHECK (frequency IN ('off', 'daily', 'weekly')),
                next_at timestamptz NULL,
                last_sent_at timestamptz NULL
            );
        """)

    manager.add_raw(run)
    return manager
