"""Campaign recipients remember when a sender claimed them: the throttle counts claims per minute, and a
recipient a crashed sender left 'sending' is looked up at Twilio from that moment on."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T06:41:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "campaign recipient claimed_at"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="campaigns", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            ALTER TABLE campaign_recipient ADD COLUMN IF NOT EXISTS claimed_at timestamptz;
            CREATE INDEX IF NOT EXISTS campaign_recipient_claimed ON campaign_recipient (campaign, claimed_at)
                WHERE claimed_at IS NOT NULL;
        """)

    manager.add_raw(run)
    return manager
