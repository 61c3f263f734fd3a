"""Routing's durable listeners start at the tenant's beginning: a new shop's first item or first agent state change
is routed even if no worker has visited the shop yet (a cursor created later would start after them)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T00:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "routing listener cursors"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="routing", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            INSERT INTO listener_cursor (name, events, last_tx, last_event_id)
            SELECT x.name, string_to_array(x.events, ' ')::varchar[], COALESCE(l.tx, '0'::xid8), COALESCE(l.id, 0)
            FROM (VALUES ('routing.items', 'conversation.assigned conversation.closed conversation.reopened '
                          'conversation.snoozed queue.item_added queue.item_removed queue.item_taken'),
                         ('routing.agents', 'agent.state_changed')) AS x(name, events)
            LEFT JOIN LATERAL (SELECT tx, id FROM event_log ORDER BY tx DESC, id DESC LIMIT 1) l ON true
            ON CONFLICT (name) DO NOTHING;
        """)

    manager.add_raw(run)
    return manager
