"""Drop indexes another index of the same table already covers (issue #15: every index is one more b-tree build,
file and fsync in each of 10,000 new tenant schemas, and one more write on every insert). Each one dropped, and the
index that serves its queries instead (the same columns first, the same predicate):

- app_user_email: served by app_user_email_key (UNIQUE email);
- user_session_token_hash: served by user_session_token_hash_key (UNIQUE token_hash);
- api_key_key_hash: served by api_key_key_hash_key (UNIQUE key_hash);
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T09:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "redundant indexes: the unique constraints on the same columns already index them"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            DROP INDEX IF EXISTS app_user_email;
            DROP INDEX IF EXISTS user_session_token_hash;
            DROP INDEX IF EXISTS api_key_key_hash;
        """)

    manager.add_raw(run)
    return manager
