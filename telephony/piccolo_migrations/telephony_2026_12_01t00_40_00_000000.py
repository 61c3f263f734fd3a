"""Callback, keep my place: a caller who pressed the digit while waiting is called back from the same queue item.

The conversation (app.conversations' table) carries the number to call and when the caller asked; the Twilio
settings carry whether callers are offered it. Raw SQL: the conversation table belongs to another app."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T00:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "conversation.callback_number, conversation.callback_requested_at, twilio_config.offer_callback"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="telephony", description=DESCRIPTION)

    async def run() -> None:
        conn = current_uow().connection
        await conn.execute("ALTER TABLE conversation ADD COLUMN IF NOT EXISTS callback_number varchar(30) NOT NULL "
                           "DEFAULT ''")
        await conn.execute("ALTER TABLE conversation ADD COLUMN IF NOT EXISTS callback_requested_at timestamptz NULL")
        await conn.execute("ALTER TABLE twilio_config ADD COLUMN IF NOT EXISTS offer_callback boolean NOT NULL "
                           "DEFAULT false")

    manager.add_raw(run)
    return manager
