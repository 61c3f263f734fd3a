"""Event ids from a sequence, ordered by (tx, id) under a safe horizon (see realtime.log); the one-row counter goes.

Existing rows all take this migration's transaction id as `tx`, so their order (by id) is kept; the floor (the
newest position trimmed away) and the listeners' cursors are carried over as positions in that transaction.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-30T21:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "event_log positions"

SQL = """
CREATE SEQUENCE event_log_id_seq AS bigint OWNED BY event_log.id;
SELECT setval('event_log_id_seq', GREATEST(COALESCE((SELECT last_id FROM event_seq WHERE id = 1), 0),
                                           COALESCE((SELECT max(id) FROM event_log), 0), 1),
              COALESCE((SELECT last_id FROM event_seq WHERE id = 1), (SELECT max(id) FROM event_log)) IS NOT NULL);
ALTER TABLE event_log ALTER COLUMN id SET DEFAULT nextval('event_log_id_seq'),
    ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX event_log_position ON event_log (tx, id);
CREATE TABLE event_log_floor (
    id integer PRIMARY KEY CHECK (id = 1),
    tx xid8 NOT NULL,
    seq bigint NOT NULL
);
-- Everything below the oldest kept event was trimmed: the floor is the position just under it (events kept so far
-- all sit in this transaction), or the counter's end when the log is empty; nothing trimmed yet: the start.
INSERT INTO event_log_floor (id, tx, seq)
SELECT 1, CASE WHEN f.seq > 0 THEN pg_current_xact_id() ELSE '0'::xid8 END, f.seq
FROM (SELECT COALESCE((SELECT min(id) - 1 FROM event_log),
                      (SELECT last_id FROM event_seq WHERE id = 1), 0) AS seq) f;
ALTER TABLE listener_cursor ADD COLUMN last_tx xid8 NOT NULL DEFAULT '0';
UPDATE listener_cursor SET last_tx = pg_current_xact_id() WHERE last_event_id > 0;
DROP TABLE event_seq;
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="realtime", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute(SQL)

    manager.add_raw(run)
    return manager
