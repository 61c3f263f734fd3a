"""Routing: per-queue settings, agent skills, stored decisions, offers; conversation.priority (a column on the
conversations domain's table, added here)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "routing: queue settings, skills, decisions, offers, conversation priority"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="routing", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            ALTER TABLE conversation ADD COLUMN IF NOT EXISTS priority integer NOT NULL DEFAULT 0;
            CREATE INDEX IF NOT EXISTS conversation_waiting_queue ON conversation (queue, created_at)
                WHERE status = 'waiting';
            CREATE TABLE IF NOT EXISTS queue_routing (
                id serial PRIMARY KEY,
                queue integer NOT NULL UNIQUE REFERENCES queue (id) ON DELETE CASCADE,
                strategy varchar(20) NOT NULL DEFAULT 'manual',
                skills jsonb NOT NULL DEFAULT '{}',
                sticky_minutes integer NOT NULL DEFAULT 0,
                offer_timeout integer NOT NULL DEFAULT 20,
                misses_before_away integer NOT NULL DEFAULT 3,
                overflow_queue integer NULL REFERENCES queue (id) ON DELETE SET NULL,
                overflow_after integer NOT NULL DEFAULT 0,
                rr_last_user integer NULL
            );
            CREATE TABLE IF NOT EXISTS agent_skill (
                id serial PRIMARY KEY,
                "user" integer NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
                skill varchar(40) NOT NULL,
                level integer NOT NULL DEFAULT 1,
                UNIQUE ("user", skill)
            );
            CREATE TABLE IF NOT EXISTS routing_decision (
                id serial PRIMARY KEY,
                conversation integer NOT NULL REFERENCES conversation (id) ON DELETE CASCADE,
                queue integer NOT NULL REFERENCES queue (id) ON DELETE CASCADE,
                strategy varchar(20) NOT NULL,
                winner integer NULL REFERENCES app_user (id) ON DELETE SET NULL,
                reason varchar(20) NOT NULL DEFAULT '',
                candidates jsonb NOT NULL DEFAULT '[]',
                created_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX IF NOT EXISTS routing_decision_conversation ON routing_decision (conversation, id);
            CREATE TABLE IF NOT EXISTS routing_offer (
                id serial PRIMARY KEY,
                conversation integer NOT NULL REFERENCES conversation (id) ON DELETE CASCADE,
                queue integer NOT NULL REFERENCES queue (id) ON DELETE CASCADE,
                "user" integer NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
                channel varchar(10) NOT NULL,
                decision integer NULL REFERENCES routing_decision (id) ON DELETE SET NULL,
                status varchar(10) NOT NULL DEFAULT 'pending',
                created_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz NOT NULL,
                closed_at timestamptz NULL,
                reason varchar(40) NOT NULL DEFAULT ''
            );
            -- Exactly one open offer per item: a second router that got past its checks fails here.
            CREATE UNIQUE INDEX IF NOT EXISTS routing_offer_one_pending ON routing_offer (conversation)
                WHERE status = 'pending';
            CREATE INDEX IF NOT EXISTS routing_offer_user ON routing_offer ("user", id);
        """)

    manager.add_raw(run)
    return manager
