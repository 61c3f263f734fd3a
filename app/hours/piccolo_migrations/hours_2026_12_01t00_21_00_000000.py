"""The outside-hours auto-reply listener reads the event log from its start (a new listener would otherwise start at
the log's end, and a new workspace's first chat would be missed); no queue has a calendar before this feature, so
older events cause no reply."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T00:21:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "hours.auto_reply cursor"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="hours", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            INSERT INTO listener_cursor (name, events, last_event_id)
            VALUES ('hours.auto_reply', '{chat.message,message.received}', 0) ON CONFLICT (name) DO NOTHING;
        """)

    manager.add_raw(run)
    return manager
