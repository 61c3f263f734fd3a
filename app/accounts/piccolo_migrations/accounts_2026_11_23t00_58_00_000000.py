"""Make the audit log append-only: a trigger rejects UPDATE and DELETE on audit_entry."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-23T00:58:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit log append-only trigger"

SQL = """
CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_entry_no_change BEFORE UPDATE OR DELETE ON audit_entry
    FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only();
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)

    async def run() -> None:
        # Migrations always run inside the schema's unit of work; execute() takes several statements.
        await current_uow().connection.execute(SQL)

    manager.add_raw(run)
    return manager
