"""Business-hours calendars, their intervals, closed dates and overrides; each queue's calendar; auto-replies."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T00:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "business hours"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="hours", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE hours_calendar (
                id serial PRIMARY KEY,
                name varchar(100) NOT NULL UNIQUE,
                zone varchar(64) NOT NULL,
                country varchar(3) NOT NULL DEFAULT '',
                subdivision varchar(10) NOT NULL DEFAULT '',
                public_holidays boolean NOT NULL DEFAULT true,
                created_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE hours_interval (
                id serial PRIMARY KEY,
                calendar integer NOT NULL REFERENCES hours_calendar (id) ON DELETE CASCADE,
                weekday integer NOT NULL CHECK (weekday BETWEEN 0 AND 6),
                opens time NOT NULL,
                closes time NOT NULL);
            CREATE INDEX hours_interval_calendar ON hours_interval (calendar, weekday, opens);
            CREATE TABLE hours_closed_date (
                id serial PRIMARY KEY,
                calendar integer NOT NULL REFERENCES hours_calendar (id) ON DELETE CASCADE,
                day date NOT NULL,
                name varchar(100) NOT NULL DEFAULT '');
            CREATE UNIQUE INDEX hours_closed_date_once ON hours_closed_date (calendar, day);
            CREATE TABLE hours_override (
                id serial PRIMARY KEY,
                calendar integer NOT NULL REFERENCES hours_calendar (id) ON DELETE CASCADE,
                day date NOT NULL,
                name varchar(100) NOT NULL DEFAULT '',
                intervals jsonb NOT NULL DEFAULT '[]');
            CREATE UNIQUE INDEX hours_override_once ON hours_override (calendar, day);
            CREATE TABLE hours_queue (
                id serial PRIMARY KEY,
                queue integer NOT NULL UNIQUE REFERENCES queue (id) ON DELETE CASCADE,
                calendar integer REFERENCES hours_calendar (id) ON DELETE RESTRICT,
                outside_hours_call varchar(10) NOT NULL DEFAULT 'voicemail'
                    CHECK (outside_hours_call IN ('voicemail', 'callback')),
                auto_reply text NOT NULL DEFAULT '');
            CREATE TABLE hours_auto_reply (
                id serial PRIMARY KEY,
                conversation integer NOT NULL REFERENCES conversation (id) ON DELETE CASCADE,
                reopens_at timestamptz,
                sent_at timestamptz NOT NULL DEFAULT now());
            CREATE UNIQUE INDEX hours_auto_reply_once ON hours_auto_reply (conversation, reopens_at) NULLS NOT DISTINCT;
        """)

    manager.add_raw(run)
    return manager
