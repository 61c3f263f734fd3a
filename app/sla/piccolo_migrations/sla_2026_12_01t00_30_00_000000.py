"""SLA policies (targets per queue, channel, priority) and clocks (one per conversation, metric and cycle)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow
from app.sla.listener import LISTENER
from realtime import durable

ID = "2026-12-01T00:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "sla policies and clocks"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="sla", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE IF NOT EXISTS sla_policy (
                id serial PRIMARY KEY,
                name varchar(100) NOT NULL,
                queue integer NULL REFERENCES queue (id) ON DELETE CASCADE,
                channel varchar(10) NULL,
                priority integer NULL,
                first_response_seconds integer NULL CHECK (first_response_seconds > 0),
                next_response_seconds integer NULL CHECK (next_response_seconds > 0),
                resolution_seconds integer NULL CHECK (resolution_seconds > 0),
                business_hours boolean NOT NULL DEFAULT false,
                pause_statuses varchar(20)[] NOT NULL DEFAULT '{}',
                warn_percent integer NOT NULL DEFAULT 80 CHECK (warn_percent BETWEEN 1 AND 99),
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            -- One policy per combination: "the most specific wins" never has to break a tie.
            CREATE UNIQUE INDEX IF NOT EXISTS sla_policy_scope ON sla_policy
                (coalesce(queue, 0), coalesce(channel, ''), coalesce(priority, -2147483648));
            CREATE TABLE IF NOT EXISTS sla_clock (
                id serial PRIMARY KEY,
                conversation integer NOT NULL REFERENCES conversation (id) ON DELETE CASCADE,
                metric varchar(20) NOT NULL CHECK (metric IN ('first_response', 'next_response', 'resolution')),
                cycle integer NOT NULL DEFAULT 0,
                policy integer NULL REFERENCES sla_policy (id) ON DELETE SET NULL,
                queue integer NULL,
                target_seconds integer NOT NULL,
                warn_percent integer NOT NULL,
                business_hours boolean NOT NULL DEFAULT false,
                pause_statuses varchar(20)[] NOT NULL DEFAULT '{}',
                started_at timestamptz NOT NULL,
                warn_at timestamptz NOT NULL,
                due_at timestamptz NOT NULL,
                paused_at timestamptz NULL,
                paused_by varchar(20) NULL,
                paused_seconds double precision NOT NULL DEFAULT 0,
                warned_at timestamptz NULL,
                met_at timestamptz NULL,
                breached_at timestamptz NULL,
                stopped_at timestamptz NULL,
                UNIQUE (conversation, metric, cycle)
            );
            -- Who spoke last in a conversation: "an agent replied" starts next-response clocks on the customer's
            -- next message, and "the last message is ours" is the awaiting_customer pause.
            CREATE TABLE IF NOT EXISTS sla_conversation (
                conversation integer PRIMARY KEY REFERENCES conversation (id) ON DELETE CASCADE,
                last_agent_reply_at timestamptz NULL,
                last_customer_at timestamptz NULL
            );
            CREATE INDEX IF NOT EXISTS sla_clock_running ON sla_clock (due_at)
                WHERE met_at IS NULL AND stopped_at IS NULL;
        """)
        # The clocks' listener follows the log from here on (a new workspace: from its first event), so the worker's
        # first visit does not skip what happened before it.
        await durable.ensure_cursors([LISTENER])

    manager.add_raw(run)
    return manager
