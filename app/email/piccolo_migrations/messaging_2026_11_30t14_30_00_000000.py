"""Inbound mail keeps its Message-ID, unique per shop: the same message delivered twice at once is stored once."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-11-30T14:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "inbound mail message id"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="messaging", description=DESCRIPTION)

    async def run() -> None:
        # Rows stored before this keep NULL (they are processed already); NULLs never collide.
        await current_uow().connection.execute("""
            ALTER TABLE inbound_mail ADD COLUMN message_id varchar(300) NULL;
            ALTER TABLE inbound_mail ADD CONSTRAINT inbound_mail_message_id_key UNIQUE (message_id);
        """)

    manager.add_raw(run)
    return manager
