"""The agents' durable listener sees every event from the workspace's start: its cursor is made with the schema
(realtime.durable.ensure_cursors would start a new cursor at the log's end when the worker first meets it, and
miss the work done before). Its events are the listener's (services.WORK_EVENTS) as of this migration; the worker
updates them when they change. Other events never wait for it, so the log's trimming is not held back."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T00:12:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "agents.work listener cursor"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="agents", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            INSERT INTO listener_cursor (name, events, last_tx, last_event_id)
            SELECT 'agents.work', string_to_array('call.updated conversation.assigned conversation.closed '
                       'conversation.merged conversation.reopened conversation.snoozed queue.item_added '
                       'queue.item_removed queue.item_taken', ' ')::varchar[],
                   COALESCE(l.tx, '0'::xid8), COALESCE(l.id, 0)
            FROM (SELECT 1) one
            LEFT JOIN LATERAL (SELECT tx, id FROM event_log ORDER BY tx DESC, id DESC LIMIT 1) l ON true
            ON CONFLICT (name) DO NOTHING;
        """)

    manager.add_raw(run)
    return manager
