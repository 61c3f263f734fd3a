"""Outbound webhooks: endpoints, signing secrets, deliveries and their attempts."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbound webhooks"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="webhooks_out", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE IF NOT EXISTS webhook_endpoint (
                id serial PRIMARY KEY,
                url varchar(2000) NOT NULL,
                description varchar(500) NOT NULL DEFAULT '',
                events varchar(100)[] NOT NULL DEFAULT '{}',
                enabled boolean NOT NULL DEFAULT true,
                disabled_reason varchar(500) NOT NULL DEFAULT '',
                failing_since timestamptz NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE TABLE IF NOT EXISTS webhook_secret (
                id serial PRIMARY KEY,
                endpoint integer NOT NULL REFERENCES webhook_endpoint (id) ON DELETE CASCADE,
                secret text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz NULL
            );
            CREATE INDEX IF NOT EXISTS webhook_secret_endpoint ON webhook_secret (endpoint);
            CREATE TABLE IF NOT EXISTS webhook_delivery (
                id serial PRIMARY KEY,
                endpoint integer NULL REFERENCES webhook_endpoint (id) ON DELETE CASCADE,
                url varchar(2000) NOT NULL,
                secret text NULL,
                msg_id varchar(64) NOT NULL UNIQUE,
                event_id bigint NULL,
                event_type varchar(100) NOT NULL,
                body text NOT NULL,
                causation jsonb NULL,
                status varchar(12) NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'succeeded', 'failed')),
                attempts integer NOT NULL DEFAULT 0,
                next_attempt_at timestamptz NULL,
                last_attempt_at timestamptz NULL,
                response_code integer NULL,
                latency_ms integer NULL,
                error text NOT NULL DEFAULT '',
                request_headers jsonb NOT NULL DEFAULT '{}',
                response_body text NOT NULL DEFAULT '',
                is_test boolean NOT NULL DEFAULT false,
                created_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX IF NOT EXISTS webhook_delivery_endpoint ON webhook_delivery (endpoint, id DESC);
            CREATE UNIQUE INDEX IF NOT EXISTS webhook_delivery_once ON webhook_delivery (endpoint, event_id)
                WHERE event_id IS NOT NULL AND NOT is_test;
            CREATE TABLE IF NOT EXISTS webhook_attempt (
                id serial PRIMARY KEY,
                delivery integer NOT NULL REFERENCES webhook_delivery (id) ON DELETE CASCADE,
                attempted_at timestamptz NOT NULL DEFAULT now(),
                response_code integer NULL,
                latency_ms integer NULL,
                error text NOT NULL DEFAULT '',
                response_body text NOT NULL DEFAULT ''
            );
            CREATE INDEX IF NOT EXISTS webhook_attempt_delivery ON webhook_attempt (delivery, id);
        """)

    manager.add_raw(run)
    return manager
