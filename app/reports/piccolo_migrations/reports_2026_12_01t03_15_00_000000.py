"""The revenue reports' settings: the last-touch window and the rule for clients who stopped buying."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T03:15:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "revenue report settings"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="reports", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE IF NOT EXISTS report_revenue_setting (
                id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
                touch_days integer NOT NULL DEFAULT 7 CHECK (touch_days BETWEEN 1 AND 365),
                lapsed_factor double precision NOT NULL DEFAULT 2 CHECK (lapsed_factor BETWEEN 1 AND 20),
                lapsed_days integer NOT NULL DEFAULT 180 CHECK (lapsed_days BETWEEN 1 AND 3650),
                updated_at timestamptz NOT NULL DEFAULT now()
            );
        """)

    manager.add_raw(run)
    return manager
