"""Conference callbacks are ordered per participant: Twilio does not deliver them in order, and a callback that
comes before the call's conference is committed is retried, so a newer event of one participant must not make an
older event of another look stale."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-30T19:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "call_participant.conference_sequence replaces twilio_call.last_conference_sequence"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="telephony", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute(
            "ALTER TABLE call_participant ADD COLUMN IF NOT EXISTS conference_sequence integer NOT NULL DEFAULT -1")
        # The call-wide sequence dropped any event older than the newest applied one of any participant.
        await current_uow().connection.execute("ALTER TABLE twilio_call DROP COLUMN IF EXISTS last_conference_sequence")

    manager.add_raw(run)
    return manager
