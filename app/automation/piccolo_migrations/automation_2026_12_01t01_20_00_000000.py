"""Automation rules, their versions and the run log (one run per rule and event)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T01:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "automation rules, versions and runs"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="automation", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE IF NOT EXISTS automation_rule (
                id serial PRIMARY KEY,
                name varchar(200) NOT NULL,
                position integer NOT NULL DEFAULT 0,
                enabled boolean NOT NULL DEFAULT false,
                version integer NOT NULL DEFAULT 1,
                trigger varchar(10) NOT NULL DEFAULT 'event' CHECK (trigger IN ('event', 'delay', 'schedule')),
                event varchar(64) NOT NULL DEFAULT '',
                delay_minutes integer NOT NULL DEFAULT 0,
                schedule varchar(100) NOT NULL DEFAULT '',
                conditions jsonb NOT NULL DEFAULT '{"all": []}',
                actions jsonb NOT NULL DEFAULT '[]',
                rate_limit integer NOT NULL DEFAULT 0,
                starter varchar(40) NOT NULL DEFAULT '',
                next_run_at timestamptz NULL,
                created_by integer NULL REFERENCES app_user (id) ON DELETE SET NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX IF NOT EXISTS automation_rule_enabled ON automation_rule (event, position, id)
                WHERE enabled;
            CREATE TABLE IF NOT EXISTS automation_rule_version (
                id serial PRIMARY KEY,
                rule integer NOT NULL REFERENCES automation_rule (id) ON DELETE CASCADE,
                version integer NOT NULL,
                definition jsonb NOT NULL DEFAULT '{}',
                created_by_label varchar(254) NOT NULL DEFAULT '',
                created_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (rule, version)
            );
            CREATE TABLE IF NOT EXISTS automation_run (
                id bigserial PRIMARY KEY,
                rule integer NOT NULL REFERENCES automation_rule (id) ON DELETE CASCADE,
                version integer NOT NULL,
                event_id bigint NULL,
                event_name varchar(64) NOT NULL DEFAULT '',
                depth integer NOT NULL DEFAULT 0,
                contact_id integer NULL,
                conversation_id integer NULL,
                order_id integer NULL,
                ids jsonb NOT NULL DEFAULT '{}',
                status varchar(16) NOT NULL,
                matched boolean NOT NULL DEFAULT false,
                leaves jsonb NOT NULL DEFAULT '[]',
                actions jsonb NOT NULL DEFAULT '[]',
                next_step integer NOT NULL DEFAULT 0,
                note text NOT NULL DEFAULT '',
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE UNIQUE INDEX IF NOT EXISTS automation_run_once ON automation_run (rule, event_id)
                WHERE event_id IS NOT NULL;
            CREATE INDEX IF NOT EXISTS automation_run_rule ON automation_run (rule, id DESC);
            CREATE INDEX IF NOT EXISTS automation_run_contact ON automation_run (contact_id, id DESC);
        """)

    manager.add_raw(run)
    return manager
