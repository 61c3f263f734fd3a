"""Agent states, their intervals and capacity per channel."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T00:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "agent states, state intervals, capacity"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="agents", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE agent_state (
                id serial PRIMARY KEY,
                "user" integer NOT NULL UNIQUE REFERENCES app_user (id) ON DELETE CASCADE,
                state varchar(12) NOT NULL DEFAULT 'offline'
                    CHECK (state IN ('available', 'busy', 'wrapup', 'away', 'offline')),
                reason varchar(40) NOT NULL DEFAULT '',
                since timestamptz NOT NULL DEFAULT now(),
                wrapup_until timestamptz,
                chosen varchar(12) NOT NULL DEFAULT 'available' CHECK (chosen IN ('available', 'away')),
                chosen_reason varchar(40) NOT NULL DEFAULT '',
                call_blocks boolean NOT NULL DEFAULT true);
            CREATE TABLE agent_state_interval (
                id serial PRIMARY KEY,
                "user" integer NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
                state varchar(12) NOT NULL,
                reason varchar(40) NOT NULL DEFAULT '',
                started_at timestamptz NOT NULL DEFAULT now(),
                ended_at timestamptz,
                CHECK (ended_at IS NULL OR ended_at >= started_at));
            CREATE INDEX agent_state_interval_user ON agent_state_interval ("user", started_at);
            CREATE UNIQUE INDEX agent_state_interval_open ON agent_state_interval ("user") WHERE ended_at IS NULL;
            CREATE TABLE agent_capacity (
                id serial PRIMARY KEY,
                "user" integer NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
                channel varchar(10) NOT NULL CHECK (channel IN ('call', 'sms', 'email', 'chat')),
                slots integer NOT NULL DEFAULT 1 CHECK (slots >= 0 AND slots <= 100));
            CREATE UNIQUE INDEX agent_capacity_once ON agent_capacity ("user", channel);
        """)

    manager.add_raw(run)
    return manager
