"""Indexes for contact search and filters: trigram on search_text (when pg_trgm exists), tags, custom fields."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-23T01:12:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "contact search indexes"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="contacts", description=DESCRIPTION)

    async def run() -> None:
        conn = current_uow().connection
        await conn.execute("""
            CREATE INDEX contact_tags_gin ON contact USING gin (tags);
            CREATE INDEX contact_custom_gin ON contact USING gin (custom jsonb_path_ops);
            CREATE INDEX contact_live_updated ON contact (updated_at DESC, id DESC) WHERE deleted_at IS NULL;
            CREATE INDEX contact_name_lower ON contact (lower(name));
            CREATE INDEX contact_phone_contact ON contact_phone (contact);
            CREATE INDEX contact_email_contact ON contact_email (contact);
        """)
        if await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'"):
            await conn.execute(
                "CREATE INDEX contact_search_trgm ON contact USING gin (search_text public.gin_trgm_ops);"
                "CREATE INDEX contact_name_trgm ON contact USING gin (lower(name) public.gin_trgm_ops);")

    manager.add_raw(run)
    return manager
