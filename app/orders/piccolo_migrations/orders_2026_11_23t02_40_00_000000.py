"""Order CSV imports: the uploaded file, its column mapping, progress and refused rows."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-23T02:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "order imports"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE IF NOT EXISTS order_import (
                id serial PRIMARY KEY,
                filename varchar(255) NOT NULL DEFAULT '',
                storage_key varchar(300) NOT NULL DEFAULT '',
                encoding varchar(20) NOT NULL DEFAULT 'utf-8',
                delimiter varchar(2) NOT NULL DEFAULT ',',
                mapping jsonb NOT NULL DEFAULT '{}',
                status varchar(20) NOT NULL DEFAULT 'uploaded'
                    CHECK (status IN ('uploaded', 'queued', 'running', 'done', 'failed')),
                total integer NOT NULL DEFAULT 0,
                processed integer NOT NULL DEFAULT 0,
                orders_total integer NOT NULL DEFAULT 0,
                orders_done integer NOT NULL DEFAULT 0,
                created integer NOT NULL DEFAULT 0,
                updated integer NOT NULL DEFAULT 0,
                unchanged integer NOT NULL DEFAULT 0,
                failed integer NOT NULL DEFAULT 0,
                errors jsonb NOT NULL DEFAULT '[]',
                created_by integer NULL REFERENCES app_user (id) ON DELETE SET NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                finished_at timestamptz NULL
            );
        """)

    manager.add_raw(run)
    return manager
