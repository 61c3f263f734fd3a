"""Web chat: widget settings, visitor sessions (token hash only) and messages with their delivery state."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-29T17:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "web chat tables"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="chat", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE chat_settings (
                id serial PRIMARY KEY,
                allowed_origins jsonb NOT NULL DEFAULT '[]',
                greeting varchar(300) NOT NULL DEFAULT 'Hi! How can we help?',
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE TABLE chat_session (
                id serial PRIMARY KEY,
                token_hash varchar(64) NOT NULL UNIQUE,
                origin varchar(300) NOT NULL DEFAULT '',
                page_url varchar(500) NOT NULL DEFAULT '',
                visitor_name varchar(100) NOT NULL DEFAULT '',
                visitor_email varchar(254) NOT NULL DEFAULT '',
                visitor_phone varchar(32) NOT NULL DEFAULT '',
                contact integer NULL REFERENCES contact (id) ON DELETE SET NULL,
                conversation integer NULL REFERENCES conversation (id) ON DELETE SET NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                last_seen_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX chat_session_conversation ON chat_session (conversation);
            CREATE INDEX chat_session_contact ON chat_session (contact);
            CREATE TABLE chat_message (
                id serial PRIMARY KEY,
                chat_session integer NOT NULL REFERENCES chat_session (id) ON DELETE CASCADE,
                conversation integer NULL REFERENCES conversation (id) ON DELETE SET NULL,
                direction varchar(3) NOT NULL CHECK (direction IN ('in', 'out')),
                body text NOT NULL,
                author_label varchar(100) NOT NULL DEFAULT '',
                author integer NULL REFERENCES app_user (id) ON DELETE SET NULL,
                status varchar(10) NOT NULL DEFAULT 'sent' CHECK (status IN ('sent', 'delivered', 'read')),
                created_at timestamptz NOT NULL DEFAULT now(),
                delivered_at timestamptz NULL,
                read_at timestamptz NULL
            );
            CREATE INDEX chat_message_session ON chat_message (chat_session, id);
            CREATE INDEX chat_message_conversation ON chat_message (conversation, id);
        """)

    manager.add_raw(run)
    return manager
