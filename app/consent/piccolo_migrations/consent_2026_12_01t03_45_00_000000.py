"""Consent: the append-only ledger, the suppression list of hashed addresses and the tenant's hash salt."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T03:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "consent"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="consent", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            CREATE TABLE consent_entry (
                id serial PRIMARY KEY,
                contact integer NOT NULL REFERENCES contact (id) ON DELETE CASCADE,
                channel varchar(8) NOT NULL CHECK (channel IN ('sms', 'email', 'call')),
                purpose varchar(16) NOT NULL CHECK (purpose IN ('marketing', 'transactional')),
                status varchar(8) NOT NULL CHECK (status IN ('opt_in', 'opt_out')),
                source varchar(16) NOT NULL
                    CHECK (source IN ('form', 'keyword', 'one_click', 'operator', 'import', 'carrier_error')),
                evidence text NOT NULL DEFAULT '',
                recorded_by integer REFERENCES app_user (id) ON DELETE SET NULL,
                at timestamptz NOT NULL DEFAULT now());
            CREATE INDEX consent_entry_contact ON consent_entry (contact, at DESC, id DESC);
            CREATE TABLE suppression (
                id serial PRIMARY KEY,
                address_hash varchar(64) NOT NULL,
                channel varchar(8) NOT NULL CHECK (channel IN ('sms', 'email', 'call')),
                source varchar(16) NOT NULL,
                at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (channel, address_hash));
            CREATE TABLE consent_salt (
                id serial PRIMARY KEY,
                salt varchar(64) NOT NULL);
            INSERT INTO consent_salt (salt)
                VALUES (encode(sha256((gen_random_uuid()::text || gen_random_uuid()::text)::bytea), 'hex'));
        """)

    manager.add_raw(run)
    return manager
