"""Durable listeners' cursors over the event log; the order status notifier starts at the log's current end."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-30T14:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "listener_cursor"

SQL = """
CREATE TABLE listener_cursor (
    name varchar(64) PRIMARY KEY,
    last_event_id bigint NOT NULL DEFAULT 0,
    events varchar(64)[] NOT NULL DEFAULT '{}',
    state varchar(16) NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'parked')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- The notifier was a direct call until now: it takes over from here, so nothing already notified is sent again
-- (a new tenant's log is empty: it starts at 0). A later durable listener ships its own row the same way.
INSERT INTO listener_cursor (name, events, last_event_id)
SELECT 'orders.status_notifier', '{order.status_changed}', COALESCE((SELECT last_id FROM event_seq WHERE id = 1), 0);
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="realtime", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute(SQL)

    manager.add_raw(run)
    return manager
