"""pg_trgm in `public` (when this PostgreSQL ships it) for fast partial search in every tenant schema."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-23T01:12:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "pg_trgm extension when available"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="platform", description=DESCRIPTION)

    async def run() -> None:
        conn = current_uow().connection
        # The embedded PostgreSQL of `make run` has no contrib modules: search then works without the index.
        if await conn.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'"):
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")

    manager.add_raw(run)
    return manager
