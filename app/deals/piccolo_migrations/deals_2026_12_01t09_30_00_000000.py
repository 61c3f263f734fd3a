"""Drop indexes another index of the same table already covers (issue #15: every index is one more b-tree build,
file and fsync in each of 10,000 new tenant schemas, and one more write on every insert). Each one dropped, and the
index that serves its queries instead (the same columns first, the same predicate):

- deal_order_deal: served by deal_order_once UNIQUE (deal, shop_order);
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T09:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "redundant index: the unique (deal, shop_order) serves every lookup by deal"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="deals", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            DROP INDEX IF EXISTS deal_order_deal;
        """)

    manager.add_raw(run)
    return manager
