"""Rejected inbound requests (bad signatures, replays, foreign origins), their counts per minute, and the digests of
signed requests seen (replay detection)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T03:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "security rejections"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="security", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE IF NOT EXISTS security_rejection (
                id serial PRIMARY KEY,
                reason varchar(40) NOT NULL,
                source varchar(100) NOT NULL DEFAULT '',
                path varchar(300) NOT NULL DEFAULT '',
                detail text NOT NULL DEFAULT '',
                at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX IF NOT EXISTS security_rejection_at ON security_rejection (at DESC);
            -- One row per reason, source and minute: the cap on stored rows and the count of what went past it.
            CREATE TABLE IF NOT EXISTS security_rejection_minute (
                id serial PRIMARY KEY,
                reason varchar(40) NOT NULL,
                source varchar(100) NOT NULL DEFAULT '',
                minute timestamptz NOT NULL,
                recorded integer NOT NULL DEFAULT 0,
                dropped integer NOT NULL DEFAULT 0,
                UNIQUE (reason, source, minute)
            );
            CREATE INDEX IF NOT EXISTS security_rejection_minute_at ON security_rejection_minute (minute);
            -- Digests of signed requests already accepted: the same request again after the redelivery window is a
            -- replay (app.security.replay).
            CREATE TABLE IF NOT EXISTS security_seen_request (
                digest bytea PRIMARY KEY,
                first_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX IF NOT EXISTS security_seen_request_at ON security_seen_request (first_at);
        """)

    manager.add_raw(run)
    return manager
