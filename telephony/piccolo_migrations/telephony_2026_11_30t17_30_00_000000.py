"""Calls run as Twilio Conferences: the call's conference, the operator's mute, and who is on the line."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-30T17:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "twilio_call conference columns; call_participant"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="telephony", description=DESCRIPTION)

    async def run() -> None:
        conn = current_uow().connection
        await conn.execute(
            "ALTER TABLE twilio_call ADD COLUMN IF NOT EXISTS conference_name varchar(64) NOT NULL DEFAULT '', "
            "ADD COLUMN IF NOT EXISTS conference_sid varchar(64) NOT NULL DEFAULT '', "
            "ADD COLUMN IF NOT EXISTS last_conference_sequence integer NOT NULL DEFAULT -1")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS call_participant ("
            "id serial PRIMARY KEY, "
            "call integer NOT NULL REFERENCES twilio_call(id) ON DELETE CASCADE, "
            "call_sid varchar(64) NOT NULL, "
            "conference_sid varchar(64) NOT NULL DEFAULT '', "
            "role varchar(20) NOT NULL, "
            "\"user\" integer NULL REFERENCES app_user(id) ON DELETE SET NULL, "
            "status varchar(20) NOT NULL DEFAULT 'ringing', "
            "muted boolean NOT NULL DEFAULT false, "
            "hold boolean NOT NULL DEFAULT false, "
            "coaching boolean NOT NULL DEFAULT false, "
            "created_at timestamptz NOT NULL DEFAULT now(), "
            "updated_at timestamptz NOT NULL DEFAULT now())")
        await conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS call_participant_call_sid ON call_participant (call_sid)")
        await conn.execute("CREATE INDEX IF NOT EXISTS call_participant_call ON call_participant (call)")

    manager.add_raw(run)
    return manager
