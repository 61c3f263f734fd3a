"""Tenant-schema tables for accounts (unqualified: the unit of work's search_path picks the schema).

Encrypted columns (app.lib.crypto, per-tenant Fernet; secrets rotation must re-encrypt them):
- `user_totp.secret_enc` (UserTotp.secret_enc): a user's TOTP seed (base32), purpose "accounts.totp_seed".
"""

from __future__ import annotations

from piccolo.columns import Array, BigInt, Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class User(Table, tablename="app_user"):
    id: Serial
    email = Varchar(length=254, unique=True)
    name = Varchar(length=200)
    role = Varchar(length=20, choices=None)
    password_hash = Text(null=True, default=None)
    status = Varchar(length=20, default="active")  # active | disabled
    failed_logins = Integer(default=0)
    locked_until = Timestamptz(null=True, default=None)
    last_login_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    # The user's own choices; "" follows the workspace (then, for the language, the browser).
    language = Varchar(length=8, default="")
    timezone = Varchar(length=64, default="")


class Session(Table, tablename="user_session"):
    id: Serial
    token_hash = Varchar(length=64, unique=True)
    user = ForeignKey(references=User, null=False)
    created_at = Timestamptz(default=TimestamptzNow())
    last_seen_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    ip = Varchar(length=64, default="")
    user_agent = Varchar(length=300, default="")


class ApiKey(Table, tablename="api_key"):
    id: Serial
    name = Varchar(length=100)
    prefix = Varchar(length=16)
    key_hash = Varchar(length=64, unique=True)
    user = ForeignKey(references=User, null=False)
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class Invitation(Table, tablename="invitation"):
    id: Serial
    email = Varchar(length=254, index=True)
    role = Varchar(length=20)
    token_hash = Varchar(length=64, unique=True)
    invited_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    accepted_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class Workspace(Table, tablename="workspace"):
    """The shop's profile: one row per tenant schema."""

    id: Serial
    display_name = Varchar(length=200)
    timezone = Varchar(length=64, default="UTC")
    # Staff without a language of their own and contacts without one see this; "" leaves it to the browser.
    language = Varchar(length=8, default="")
    default_region = Varchar(length=2, default="US")
    onboarding_done = Boolean(default=False)
    # Onboarding steps the admin finished in the wizard (app.onboarding.STEPS); skipped ones stay on the checklist.
    onboarding_steps = Array(base_column=Varchar(length=16), default=list)
    # The shop's main currency: new orders default to it and the owner's home shows revenue in it first.
    currency = Varchar(length=3, default="USD")
    # Two-factor sign-in: "off", "admins" (admins and owners must use it) or "everyone".
    twofa_policy = Varchar(length=10, default="off")


class UserTotp(Table, tablename="user_totp"):
    """A user's TOTP authenticator (RFC 6238, 30 s steps, 6 digits). A row with confirmed_at NULL is an enrolment
    in progress: it does not protect the sign-in until a first valid code confirms it."""

    id: Serial
    user = ForeignKey(references=User, null=False, unique=True)
    # The base32 seed encrypted with app.lib.crypto.encrypt(seed, purpose=TOTP_PURPOSE) -- never stored in clear.
    secret_enc = Text()
    confirmed_at = Timestamptz(null=True, default=None)
    # The last time step (unix time // 30) a code was accepted at: a code is never accepted twice.
    last_step = BigInt(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class RecoveryCode(Table, tablename="user_recovery_code"):
    """Single-use recovery codes: only a SHA-256 of each (high-entropy) code is kept."""

    id: Serial
    user = ForeignKey(references=User, null=False)
    code_hash = Varchar(length=64, index=True)
    created_at = Timestamptz(default=TimestamptzNow())
    used_at = Timestamptz(null=True, default=None)


class LoginChallenge(Table, tablename="login_challenge"):
    """The half of a sign-in after the password: no session exists until the second factor (or the enrolment a
    policy demands) is done. The browser holds the token in a short-lived cookie; only its hash is kept."""

    id: Serial
    token_hash = Varchar(length=64, unique=True, index=True)
    user = ForeignKey(references=User, null=False)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    done_at = Timestamptz(null=True, default=None)
    next_path = Varchar(length=300, default="")
