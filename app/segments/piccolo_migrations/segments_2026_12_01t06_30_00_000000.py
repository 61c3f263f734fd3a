"""Segments: saved segments, static list members, the shop's temperature rules and the hand-set flag on a contact's
temperature."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T06:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "segments"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="segments", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE segment (
                id serial PRIMARY KEY,
                name varchar(100) NOT NULL UNIQUE,
                kind varchar(8) NOT NULL DEFAULT 'dynamic' CHECK (kind IN ('dynamic', 'static')),
                definition jsonb NOT NULL DEFAULT '{"all": []}',
                description text NOT NULL DEFAULT '',
                created_by integer REFERENCES app_user (id) ON DELETE SET NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE segment_member (
                segment integer NOT NULL REFERENCES segment (id) ON DELETE CASCADE,
                contact integer NOT NULL REFERENCES contact (id) ON DELETE CASCADE,
                added_at timestamptz NOT NULL DEFAULT now(),
                source varchar(16) NOT NULL DEFAULT 'api'
                    CHECK (source IN ('selection', 'import', 'automation', 'api')),
                PRIMARY KEY (segment, contact));
            CREATE INDEX segment_member_contact ON segment_member (contact);
            CREATE TABLE temperature_rules (
                id serial PRIMARY KEY,
                enabled boolean NOT NULL DEFAULT false,
                hot_days integer NOT NULL DEFAULT 30,
                hot_orders integer NOT NULL DEFAULT 2,
                hot_spent bigint NOT NULL DEFAULT 0,
                warm_days integer NOT NULL DEFAULT 90,
                warm_orders integer NOT NULL DEFAULT 1,
                warm_spent bigint NOT NULL DEFAULT 0,
                updated_at timestamptz NOT NULL DEFAULT now());
            INSERT INTO temperature_rules (enabled) VALUES (false);
            ALTER TABLE contact ADD COLUMN IF NOT EXISTS temperature_manual boolean NOT NULL DEFAULT false;
            UPDATE contact SET temperature_manual = true WHERE temperature IS NOT NULL;
        """)

    manager.add_raw(run)
    return manager
