"""Tasks: callbacks, follow-ups and to-dos with due times, reminders and recurrence."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T01:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "tasks"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="tasks", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE task (
                id serial PRIMARY KEY,
                kind varchar(12) NOT NULL DEFAULT 'todo' CHECK (kind IN ('callback', 'follow_up', 'todo')),
                title varchar(200) NOT NULL DEFAULT '',
                note text NOT NULL DEFAULT '',
                contact integer NOT NULL REFERENCES contact (id) ON DELETE CASCADE,
                conversation integer REFERENCES conversation (id) ON DELETE SET NULL,
                shop_order integer REFERENCES shop_order (id) ON DELETE SET NULL,
                deal integer REFERENCES deal (id) ON DELETE SET NULL,
                assignee integer REFERENCES app_user (id) ON DELETE SET NULL,
                queue integer REFERENCES queue (id) ON DELETE SET NULL,
                due_at timestamptz,
                remind_before integer NOT NULL DEFAULT 15 CHECK (remind_before >= 0),
                priority integer NOT NULL DEFAULT 0,
                status varchar(10) NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'done', 'cancelled', 'missed')),
                outcome text NOT NULL DEFAULT '',
                rrule text NOT NULL DEFAULT '',
                series_start timestamptz,
                previous integer REFERENCES task (id) ON DELETE SET NULL,
                created_by integer REFERENCES app_user (id) ON DELETE SET NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                completed_at timestamptz,
                reminded_at timestamptz,
                overdue_at timestamptz,
                routed_at timestamptz);
            CREATE INDEX task_contact ON task (contact, status);
            CREATE INDEX task_mine ON task (assignee, due_at) WHERE status = 'open';
            CREATE INDEX task_due ON task (due_at) WHERE status = 'open';
            CREATE UNIQUE INDEX task_next_once ON task (previous) WHERE previous IS NOT NULL;
        """)

    manager.add_raw(run)
    return manager
