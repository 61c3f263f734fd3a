"""Consent settings: whether marketing needs an opt-in, and the shop's own SMS stop/start words (Russian,
Bulgarian, ...) besides the standard English keywords."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T06:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "consent settings"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="consent", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE IF NOT EXISTS consent_settings (
                id serial PRIMARY KEY,
                marketing_needs_opt_in boolean NOT NULL DEFAULT false,
                stop_words text[] NOT NULL DEFAULT '{}',
                start_words text[] NOT NULL DEFAULT '{}',
                updated_at timestamptz NOT NULL DEFAULT now());
        """)

    manager.add_raw(run)
    return manager
