"""Tenant quotas on the registry: contacts, users, storage bytes, messages per day (NULL: unlimited)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T03:35:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "tenant quotas"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="platform", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            ALTER TABLE public.tenant
                ADD COLUMN IF NOT EXISTS quota_contacts integer NULL CHECK (quota_contacts >= 0),
                ADD COLUMN IF NOT EXISTS quota_users integer NULL CHECK (quota_users >= 0),
                ADD COLUMN IF NOT EXISTS quota_storage_bytes bigint NULL CHECK (quota_storage_bytes >= 0),
                ADD COLUMN IF NOT EXISTS quota_messages_per_day integer NULL CHECK (quota_messages_per_day >= 0);
        """)

    manager.add_raw(run)
    return manager
