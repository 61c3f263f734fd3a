"""Order lines carry the product's category (free text from the shop's feed or import), so segments can ask "bought a
category" and upsell can pair categories as well as products."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "order item category"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute(
            "ALTER TABLE order_item ADD COLUMN IF NOT EXISTS category varchar(100) NOT NULL DEFAULT ''")

    manager.add_raw(run)
    return manager
