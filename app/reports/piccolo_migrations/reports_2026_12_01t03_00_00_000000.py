"""Reporting facts (queue visits, agent legs, conversations, offers), 15-minute rollups and KPI targets."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow
from app.reports.listener import LISTENER
from realtime import durable

ID = "2026-12-01T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "reporting facts, rollups and targets"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="reports", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE IF NOT EXISTS report_queue_visit (
                id serial PRIMARY KEY,
                conversation integer NOT NULL,
                contact integer NULL,
                channel varchar(10) NOT NULL,
                queue integer NOT NULL,
                entered_at timestamptz NOT NULL,
                answered_at timestamptz NULL,
                answered_by integer NULL,
                left_at timestamptz NULL,
                outcome varchar(12) NOT NULL DEFAULT 'waiting' CHECK (outcome IN
                    ('waiting', 'answered', 'abandoned', 'callback', 'overflowed', 'transferred', 'closed')),
                wait_seconds integer NULL,
                callback boolean NOT NULL DEFAULT false
            );
            CREATE INDEX IF NOT EXISTS report_queue_visit_conversation ON report_queue_visit (conversation);
            CREATE INDEX IF NOT EXISTS report_queue_visit_entered ON report_queue_visit (entered_at);
            -- The journal of each conversation's steps as the spine told them (the event log is trimmed; this is
            -- not): the history the facts are projected from, live and on rebuild (app.reports.facts).
            CREATE TABLE IF NOT EXISTS report_step (
                id bigserial PRIMARY KEY,
                conversation integer NOT NULL,
                event_id bigint NOT NULL,
                kind varchar(12) NOT NULL,
                at timestamptz NOT NULL,
                queue integer NULL,
                agent integer NULL,
                detail varchar(50) NOT NULL DEFAULT '',
                UNIQUE (conversation, event_id, kind)
            );
            CREATE TABLE IF NOT EXISTS report_agent_leg (
                id serial PRIMARY KEY,
                conversation integer NOT NULL,
                channel varchar(10) NOT NULL,
                queue integer NOT NULL,
                agent integer NOT NULL,
                started_at timestamptz NOT NULL,
                ended_at timestamptz NULL,
                talk_seconds integer NOT NULL DEFAULT 0,
                hold_seconds integer NOT NULL DEFAULT 0,
                wrap_seconds integer NOT NULL DEFAULT 0,
                transferred_out boolean NOT NULL DEFAULT false,
                disposition varchar(50) NOT NULL DEFAULT ''
            );
            CREATE INDEX IF NOT EXISTS report_agent_leg_conversation ON report_agent_leg (conversation);
            CREATE INDEX IF NOT EXISTS report_agent_leg_ended ON report_agent_leg (ended_at);
            CREATE TABLE IF NOT EXISTS report_conversation (
                conversation integer PRIMARY KEY,
                contact integer NULL,
                channel varchar(10) NOT NULL,
                queue integer NOT NULL,
                agent integer NULL,
                responder integer NULL,
                created_at timestamptz NOT NULL,
                first_response_at timestamptz NULL,
                first_response_seconds integer NULL,
                first_response_bh_seconds integer NULL,
                resolved_at timestamptz NULL,
                resolution_seconds integer NULL,
                resolution_bh_seconds integer NULL,
                transfers integer NOT NULL DEFAULT 0
            );
            CREATE INDEX IF NOT EXISTS report_conversation_resolved ON report_conversation (resolved_at);
            CREATE INDEX IF NOT EXISTS report_conversation_response ON report_conversation (first_response_at);
            CREATE TABLE IF NOT EXISTS report_offer (
                id integer PRIMARY KEY,
                conversation integer NOT NULL,
                queue integer NOT NULL,
                channel varchar(10) NOT NULL,
                agent integer NOT NULL,
                offered_at timestamptz NOT NULL,
                closed_at timestamptz NULL,
                outcome varchar(10) NOT NULL DEFAULT 'pending'
            );
            CREATE INDEX IF NOT EXISTS report_offer_conversation ON report_offer (conversation);
            CREATE INDEX IF NOT EXISTS report_offer_offered ON report_offer (offered_at);
            CREATE TABLE IF NOT EXISTS report_rollup (
                bucket timestamptz NOT NULL,
                queue integer NOT NULL DEFAULT 0,
                agent integer NOT NULL DEFAULT 0,
                channel varchar(10) NOT NULL DEFAULT '',
                metric varchar(30) NOT NULL,
                count bigint NOT NULL DEFAULT 0,
                sum double precision NOT NULL DEFAULT 0,
                hist jsonb NOT NULL DEFAULT '{}',
                PRIMARY KEY (bucket, metric, agent, queue, channel)
            );
            -- The same per UTC day: a report over months reads these for its whole days.
            CREATE TABLE IF NOT EXISTS report_rollup_day (
                day date NOT NULL,
                queue integer NOT NULL DEFAULT 0,
                agent integer NOT NULL DEFAULT 0,
                channel varchar(10) NOT NULL DEFAULT '',
                metric varchar(30) NOT NULL,
                count bigint NOT NULL DEFAULT 0,
                sum double precision NOT NULL DEFAULT 0,
                hist jsonb NOT NULL DEFAULT '{}',
                PRIMARY KEY (day, metric, agent, queue, channel)
            );
            CREATE TABLE IF NOT EXISTS report_target (
                id serial PRIMARY KEY,
                metric varchar(30) NOT NULL,
                agent integer NULL,
                value double precision NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE UNIQUE INDEX IF NOT EXISTS report_target_once ON report_target (metric, coalesce(agent, 0));
        """)
        # The facts' listener follows the log from here on; what happened before comes from `reports rebuild`.
        await durable.ensure_cursors([LISTENER])

    manager.add_raw(run)
    return manager
