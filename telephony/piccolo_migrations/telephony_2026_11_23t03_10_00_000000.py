"""A call can be put on hold from the console: the caller hears music while the operator's leg is released."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-23T03:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "twilio_call.on_hold"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="telephony", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute(
            "ALTER TABLE twilio_call ADD COLUMN IF NOT EXISTS on_hold boolean NOT NULL DEFAULT false")

    manager.add_raw(run)
    return manager
