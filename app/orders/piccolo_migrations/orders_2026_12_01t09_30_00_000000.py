"""Drop indexes another index of the same table already covers (issue #15: every index is one more b-tree build,
file and fsync in each of 10,000 new tenant schemas, and one more write on every insert). Each one dropped, and the
index that serves its queries instead (the same columns first, the same predicate):

- shop_order_contact: served by shop_order_contact_placed (contact, placed_at DESC);
- order_message_shop_order: served by order_message_order (shop_order, id);
- order_status_change_shop_order: served by order_status_change_order (shop_order, id);
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T09:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "redundant indexes: a longer index on the same leading column serves every lookup of theirs"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            DROP INDEX IF EXISTS shop_order_contact;
            DROP INDEX IF EXISTS order_message_shop_order;
            DROP INDEX IF EXISTS order_status_change_shop_order;
        """)

    manager.add_raw(run)
    return manager
