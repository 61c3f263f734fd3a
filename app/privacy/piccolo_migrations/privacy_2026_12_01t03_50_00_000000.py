"""Privacy: the log of data requests (export/erase), legal holds, retention policies per data class."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T03:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "privacy"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="privacy", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE privacy_request (
                id serial PRIMARY KEY,
                kind varchar(8) NOT NULL CHECK (kind IN ('export', 'erase')),
                contact integer NOT NULL,
                status varchar(10) NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'done', 'failed', 'refused')),
                requested_by integer REFERENCES app_user (id) ON DELETE SET NULL,
                requested_at timestamptz NOT NULL DEFAULT now(),
                due_at timestamptz NOT NULL,
                done_at timestamptz,
                progress integer NOT NULL DEFAULT 0,
                storage_key varchar(300) NOT NULL DEFAULT '',
                expires_at timestamptz,
                detail jsonb NOT NULL DEFAULT '{}');
            CREATE INDEX privacy_request_recent ON privacy_request (requested_at DESC);
            CREATE INDEX privacy_request_contact ON privacy_request (contact);
            CREATE TABLE legal_hold (
                id serial PRIMARY KEY,
                contact integer NOT NULL UNIQUE REFERENCES contact (id) ON DELETE CASCADE,
                reason text NOT NULL,
                set_by integer REFERENCES app_user (id) ON DELETE SET NULL,
                set_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE retention_policy (
                id serial PRIMARY KEY,
                data_class varchar(24) NOT NULL UNIQUE CHECK (data_class IN ('recordings', 'messages',
                    'attachments', 'closed_conversations', 'raw_inbound', 'webhook_deliveries', 'event_log',
                    'audit')),
                keep_days integer CHECK (keep_days IS NULL OR keep_days >= 1),
                action varchar(10) NOT NULL DEFAULT 'delete' CHECK (action IN ('delete', 'anonymise')),
                enabled boolean NOT NULL DEFAULT false,
                updated_by integer REFERENCES app_user (id) ON DELETE SET NULL,
                updated_at timestamptz NOT NULL DEFAULT now(),
                last_run_at timestamptz,
                last_count integer);
        """)

    manager.add_raw(run)
    return manager
