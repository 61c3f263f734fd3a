"""Wallboard: the wallboard-only sign-in tokens."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T03:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "wallboard tokens"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="wallboard", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE IF NOT EXISTS wallboard_token (
                id serial PRIMARY KEY,
                name varchar(100) NOT NULL,
                prefix varchar(12) NOT NULL,
                token_hash varchar(64) NOT NULL UNIQUE,
                created_by integer NULL REFERENCES app_user (id) ON DELETE SET NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                last_used_at timestamptz NULL,
                revoked_at timestamptz NULL
            );
        """)

    manager.add_raw(run)
    return manager
