"""The phone that rings for a call offer: its leg (a call_participant of role "offer") names the routing offer it
rings for. No foreign key: routing sits above telephony (the id is routing's, handed over by the Channel's hooks)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T01:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "call_participant.offer_id"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="telephony", description=DESCRIPTION)

    async def run() -> None:
        conn = current_uow().connection
        await conn.execute("ALTER TABLE call_participant ADD COLUMN IF NOT EXISTS offer_id integer NULL")
        await conn.execute("CREATE INDEX IF NOT EXISTS call_participant_offer_id ON call_participant (offer_id) "
                           "WHERE offer_id IS NOT NULL")

    manager.add_raw(run)
    return manager
