"""Every workspace starts with a default sales pipeline; indexes for the board."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-23T01:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "default deal stages and board indexes"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="deals", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            INSERT INTO deal_stage (key, label, position, kind) VALUES
                ('lead', 'Lead', 0, 'open'), ('qualified', 'Qualified', 1, 'open'),
                ('proposal', 'Proposal', 2, 'open'), ('negotiation', 'Negotiation', 3, 'open'),
                ('won', 'Won', 4, 'won'), ('lost', 'Lost', 5, 'lost')
                ON CONFLICT (key) DO NOTHING;
            ALTER TABLE deal ADD CONSTRAINT deal_value_nonnegative CHECK (value >= 0);
            ALTER TABLE deal_stage ADD CONSTRAINT deal_stage_kind CHECK (kind IN ('open', 'won', 'lost'));
            CREATE UNIQUE INDEX deal_order_once ON deal_order (deal, shop_order);
            CREATE INDEX deal_board ON deal (stage, position, id);
        """)

    manager.add_raw(run)
    return manager
