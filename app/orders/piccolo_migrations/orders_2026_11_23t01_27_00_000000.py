"""Every workspace starts with the default order pipeline, and money and history stay consistent in the database."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-23T01:27:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "default order pipeline, checks and indexes"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            INSERT INTO order_status (key, label, position, allowed, final, counts_as_sale, archived) VALUES
                ('new', 'New', 0, '{paid,cancelled}', false, true, false),
                ('paid', 'Paid', 1, '{packed,cancelled,returned}', false, true, false),
                ('packed', 'Packed', 2, '{shipped,cancelled}', false, true, false),
                ('shipped', 'Shipped', 3, '{delivered,returned}', false, true, false),
                ('delivered', 'Delivered', 4, '{returned}', true, true, false),
                ('cancelled', 'Cancelled', 5, '{}', true, false, false),
                ('returned', 'Returned', 6, '{}', true, false, false)
                ON CONFLICT (key) DO NOTHING;
            ALTER TABLE shop_order ADD CONSTRAINT shop_order_money_nonnegative
                CHECK (subtotal >= 0 AND shipping >= 0 AND discount >= 0 AND total >= 0 AND paid >= 0
                       AND refunded >= 0 AND refunded <= paid);
            ALTER TABLE shop_order ADD CONSTRAINT shop_order_currency_iso CHECK (currency ~ '^[A-Z]{3}$');
            ALTER TABLE order_item ADD CONSTRAINT order_item_positive
                CHECK (quantity > 0 AND unit_price >= 0 AND line_total = quantity * unit_price);
            ALTER TABLE order_payment ADD CONSTRAINT order_payment_kind CHECK (kind IN ('payment', 'refund'));
            ALTER TABLE order_payment ADD CONSTRAINT order_payment_positive CHECK (amount > 0);
            CREATE INDEX shop_order_contact_placed ON shop_order (contact, placed_at DESC);
            CREATE INDEX shop_order_status_placed ON shop_order (status, placed_at DESC);
            CREATE INDEX order_status_change_order ON order_status_change (shop_order, id);
            CREATE INDEX order_message_order ON order_message (shop_order, id);
        """)

    manager.add_raw(run)
    return manager
