"""Two-factor sign-in: TOTP authenticators (encrypted seeds), recovery codes, sign-in challenges, shop policy."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T03:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "two-factor sign-in"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)

    async def run() -> None:
        await current_uow().connection.execute("""
            ALTER TABLE workspace ADD COLUMN IF NOT EXISTS twofa_policy varchar(10) NOT NULL DEFAULT 'off'
                CHECK (twofa_policy IN ('off', 'admins', 'everyone'));
            CREATE TABLE IF NOT EXISTS user_totp (
                id serial PRIMARY KEY,
                "user" integer NOT NULL UNIQUE REFERENCES app_user (id) ON DELETE CASCADE,
                secret_enc text NOT NULL,
                confirmed_at timestamptz NULL,
                last_step bigint NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE TABLE IF NOT EXISTS user_recovery_code (
                id serial PRIMARY KEY,
                "user" integer NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
                code_hash varchar(64) NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                used_at timestamptz NULL
            );
            CREATE INDEX IF NOT EXISTS user_recovery_code_user ON user_recovery_code ("user", code_hash);
            CREATE TABLE IF NOT EXISTS login_challenge (
                id serial PRIMARY KEY,
                token_hash varchar(64) NOT NULL UNIQUE,
                "user" integer NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
                created_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz NOT NULL,
                done_at timestamptz NULL,
                next_path varchar(300) NOT NULL DEFAULT ''
            );
        """)

    manager.add_raw(run)
    return manager
