"""Campaign tracking: the conversation a recipient's reply opened (the console shows the campaign on it), and an
index for "the latest campaign message this contact got" (replies, keyword opt-outs, conversions)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.campaigns.tracking import LISTENERS
from app.lib.db import current_uow
from realtime import durable

ID = "2026-12-01T06:46:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "campaign tracking"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="campaigns", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            ALTER TABLE campaign_recipient ADD COLUMN IF NOT EXISTS reply_conversation integer;
            CREATE INDEX IF NOT EXISTS campaign_recipient_reply_conversation ON campaign_recipient
                (reply_conversation) WHERE reply_conversation IS NOT NULL;
            CREATE INDEX IF NOT EXISTS campaign_recipient_contact_queued ON campaign_recipient (contact, queued_at);
        """)
        # The milestone listeners follow the log from here on (a new workspace: from its first event).
        await durable.ensure_cursors(LISTENERS)

    manager.add_raw(run)
    return manager
