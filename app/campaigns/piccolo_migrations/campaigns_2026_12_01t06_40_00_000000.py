"""Campaigns: the campaign, its A/B variants and the recipients frozen when sending starts."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T06:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "campaigns"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="campaigns", description=DESCRIPTION)

    async def run() -> None:
        conn = current_uow().connection
        await conn.execute("""
            CREATE TABLE campaign (
                id serial PRIMARY KEY,
                name varchar(200) NOT NULL,
                channel varchar(8) NOT NULL CHECK (channel IN ('sms', 'email')),
                purpose varchar(16) NOT NULL DEFAULT 'marketing' CHECK (purpose IN ('marketing', 'transactional')),
                segment integer,
                status varchar(16) NOT NULL DEFAULT 'draft'
                    CHECK (status IN ('draft', 'scheduled', 'sending', 'paused', 'done', 'cancelled')),
                scheduled_at timestamptz,
                quiet_start time,
                quiet_end time,
                throttle_per_minute integer CHECK (throttle_per_minute > 0),
                cap_messages integer CHECK (cap_messages > 0),
                cap_days integer CHECK (cap_days > 0),
                holdout_percent integer NOT NULL DEFAULT 0 CHECK (holdout_percent BETWEEN 0 AND 90),
                conversion_days integer NOT NULL DEFAULT 7 CHECK (conversion_days BETWEEN 1 AND 90),
                audience_count integer NOT NULL DEFAULT 0,
                started_at timestamptz,
                finished_at timestamptz,
                created_by integer REFERENCES app_user (id) ON DELETE SET NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now());
            CREATE INDEX campaign_status ON campaign (status, scheduled_at);
            CREATE TABLE campaign_variant (
                id serial PRIMARY KEY,
                campaign integer NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
                key varchar(4) NOT NULL,
                weight integer NOT NULL DEFAULT 1 CHECK (weight >= 0),
                content jsonb NOT NULL DEFAULT '{}',
                UNIQUE (campaign, key));
            CREATE TABLE campaign_recipient (
                id bigserial PRIMARY KEY,
                campaign integer NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
                contact integer NOT NULL REFERENCES contact (id) ON DELETE CASCADE,
                variant varchar(4),
                holdout boolean NOT NULL DEFAULT false,
                address varchar(254) NOT NULL DEFAULT '',
                language varchar(8) NOT NULL DEFAULT '',
                timezone varchar(64) NOT NULL DEFAULT '',
                token varchar(32) NOT NULL UNIQUE,
                status varchar(16) NOT NULL DEFAULT 'queued' CHECK (status IN
                    ('queued', 'skipped', 'sending', 'sent', 'delivered', 'failed', 'bounced', 'held_out')),
                skip_reason varchar(32),
                sms_message_id integer,
                email_message_id integer,
                queued_at timestamptz NOT NULL DEFAULT now(),
                sent_at timestamptz,
                delivered_at timestamptz,
                failed_at timestamptz,
                opened_at timestamptz,
                clicked_at timestamptz,
                replied_at timestamptz,
                unsubscribed_at timestamptz,
                converted_at timestamptz,
                order_id integer,
                revenue bigint NOT NULL DEFAULT 0,
                UNIQUE (campaign, contact));
            CREATE INDEX campaign_recipient_work ON campaign_recipient (campaign, status, id);
            CREATE INDEX campaign_recipient_contact_sent ON campaign_recipient (contact, sent_at)
                WHERE sent_at IS NOT NULL;
            CREATE INDEX campaign_recipient_sms ON campaign_recipient (sms_message_id)
                WHERE sms_message_id IS NOT NULL;
            CREATE INDEX campaign_recipient_email ON campaign_recipient (email_message_id)
                WHERE email_message_id IS NOT NULL;
        """)
        # The segment table is app.segments' (migrated before this app when it is installed).
        if await conn.fetchval("SELECT to_regclass('segment') IS NOT NULL"):
            await conn.execute("ALTER TABLE campaign ADD CONSTRAINT campaign_segment_fkey "
                               "FOREIGN KEY (segment) REFERENCES segment (id) ON DELETE SET NULL")

    manager.add_raw(run)
    return manager
