"""Upsell: the shop's thresholds, association pairs, suggestions per contact and their events (shown, accepted,
ordered with revenue). A contact's suggestions and events go with the contact (erasure cascades; a merge moves the
events and drops the suggestions, which the next recompute makes again for the survivor)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T06:35:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "upsell"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="upsell", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE upsell_settings (
                id serial PRIMARY KEY,
                min_support double precision NOT NULL DEFAULT 0.02 CHECK (min_support BETWEEN 0 AND 1),
                min_confidence double precision NOT NULL DEFAULT 0.2 CHECK (min_confidence BETWEEN 0 AND 1),
                min_count integer NOT NULL DEFAULT 2 CHECK (min_count >= 1),
                recent_days integer NOT NULL DEFAULT 7 CHECK (recent_days >= 0),
                attribution_days integer NOT NULL DEFAULT 14 CHECK (attribution_days >= 1));
            INSERT INTO upsell_settings DEFAULT VALUES;
            CREATE TABLE upsell_pair (
                id serial PRIMARY KEY,
                level varchar(8) NOT NULL CHECK (level IN ('product', 'category')),
                antecedent varchar(200) NOT NULL,
                antecedent_name varchar(200) NOT NULL,
                consequent varchar(200) NOT NULL,
                consequent_name varchar(200) NOT NULL,
                baskets_x integer NOT NULL,
                baskets_y integer NOT NULL,
                baskets_xy integer NOT NULL,
                support double precision NOT NULL,
                confidence double precision NOT NULL,
                lift double precision NOT NULL,
                computed_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (level, antecedent, consequent));
            CREATE TABLE upsell_suggestion (
                id serial PRIMARY KEY,
                contact integer NOT NULL REFERENCES contact (id) ON DELETE CASCADE,
                kind varchar(8) NOT NULL CHECK (kind IN ('pair', 'reorder')),
                product_key varchar(200) NOT NULL,
                product_name varchar(200) NOT NULL,
                reason jsonb NOT NULL DEFAULT '{}',
                score double precision NOT NULL DEFAULT 0,
                due_on date,
                computed_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (contact, kind, product_key));
            CREATE INDEX upsell_suggestion_product ON upsell_suggestion (product_key, kind);
            CREATE TABLE upsell_event (
                id serial PRIMARY KEY,
                contact integer NOT NULL REFERENCES contact (id) ON DELETE CASCADE,
                product_key varchar(200) NOT NULL,
                kind varchar(8) NOT NULL CHECK (kind IN ('shown', 'offered', 'accepted', 'ordered')),
                source varchar(16) NOT NULL CHECK (source IN ('card', 'console', 'campaign')),
                ref varchar(64) NOT NULL DEFAULT '',
                order_id integer,
                revenue bigint NOT NULL DEFAULT 0,
                at timestamptz NOT NULL DEFAULT now());
            CREATE INDEX upsell_event_contact ON upsell_event (contact, product_key, at DESC);
            CREATE INDEX upsell_event_at ON upsell_event (at);
            CREATE UNIQUE INDEX upsell_event_ordered_once ON upsell_event (order_id, product_key)
                WHERE kind = 'ordered';
        """)

    manager.add_raw(run)
    return manager
