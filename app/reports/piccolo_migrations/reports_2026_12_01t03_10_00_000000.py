"""The queue service report's settings: the service-level formula and thresholds (one row per tenant)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T03:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "report settings: service-level formula and thresholds"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="reports", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE IF NOT EXISTS report_settings (
                id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
                service_level_formula varchar(30) NOT NULL DEFAULT 'offered_minus_short' CHECK (service_level_formula
                    IN ('offered_minus_short', 'answered_abandoned', 'abandoned_after', 'within_offered')),
                service_level_seconds integer NOT NULL DEFAULT 20 CHECK (service_level_seconds BETWEEN 1 AND 3600),
                short_abandon_seconds integer NOT NULL DEFAULT 5
                    CHECK (short_abandon_seconds >= 0 AND short_abandon_seconds < service_level_seconds),
                updated_at timestamptz NOT NULL DEFAULT now()
            );
        """)

    manager.add_raw(run)
    return manager
