"""Read markers per operator and conversation, and @mentions in internal notes."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-30T17:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "workspace read markers and mentions"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="workspace", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE ws_seen (
                id serial PRIMARY KEY,
                "user" integer NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
                conversation integer NOT NULL REFERENCES conversation (id) ON DELETE CASCADE,
                seen_at timestamptz NOT NULL DEFAULT now());
            CREATE UNIQUE INDEX ws_seen_once ON ws_seen ("user", conversation);
            CREATE TABLE ws_mention (
                id serial PRIMARY KEY,
                "user" integer NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
                by_user integer REFERENCES app_user (id) ON DELETE SET NULL,
                conversation integer NOT NULL REFERENCES conversation (id) ON DELETE CASCADE,
                note_id integer,
                created_at timestamptz NOT NULL DEFAULT now(),
                read_at timestamptz);
            CREATE INDEX ws_mention_unread ON ws_mention ("user", created_at DESC) WHERE read_at IS NULL;
            CREATE INDEX interaction_conversation ON interaction ((links ->> 'conversation_id'), occurred_at)
                WHERE links ? 'conversation_id';
        """)

    manager.add_raw(run)
    return manager
