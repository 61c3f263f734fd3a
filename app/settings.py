"""One settings object, read from environment variables and validated at start-up."""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlparse


class SettingsError(ValueError):
    """A setting has a value we cannot run with; the message names the variable and the fix."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name}={raw!r} must be one of true/false/1/0/yes/no/on/off")


def _url(name: str, default: str | None, schemes: tuple[str, ...]) -> str | None:
    raw = _env(name, default)
    if raw is None:
        return None
    parsed = urlparse(raw)
    if parsed.scheme not in schemes:
        raise SettingsError(f"{name}={raw!r} must start with one of {', '.join(s + '://' for s in schemes)}")
    return raw.rstrip("/") if schemes[0].startswith("http") else raw


def _prefix(name: str) -> str:
    raw = _env(name, "sb") or "sb"
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", raw):
        raise SettingsError(f"{name}={raw!r} must be 1 to 40 letters, digits, dots, dashes or underscores")
    return raw


STATE_DIR_DEFAULT = Path(".state")


@dataclasses.dataclass(frozen=True)
class AppSettings:
    env: str
    """SWITCHBOARD_ENV: `dev` (default; embedded services allowed, insecure cookies on http) or `prod`."""
    base_url: str
    """BASE_URL: the public URL users and Twilio reach us at, e.g. https://crm.example.com (default http://HOST:PORT)."""
    host: str
    """HOST: address `switchboard run` binds to (default 127.0.0.1)."""
    port: int
    """PORT: port `switchboard run` binds to (default 8000)."""
    secret_key: str
    """SECRET_KEY: signs CSRF tokens and encrypts tenant secrets. Required in prod (32+ chars); dev keeps one in the state dir."""
    state_dir: Path
    """STATE_DIR: where the embedded database, dev secret and caught mail live (default ./.state)."""
    embedded_worker: bool
    """EMBEDDED_WORKER: run background jobs inside the web process (default true; set false when running `switchboard worker`)."""
    workers: int = 1
    """WEB_WORKERS: web processes `switchboard run` serves its port from (default 1; `--workers N`; more need REDIS_URL)."""
    twilio_api_base: str = "http://127.0.0.1:8010"
    """TWILIO_API_BASE: where the Twilio REST client sends requests meant for https://api.twilio.com (default: the local simulator `switchboard twilio-sim` serves; set https://api.twilio.com in production)."""
    secret_keys: tuple[str, ...] = ()
    """SECRET_KEYS: the keyring that encrypts tenant secrets (Twilio tokens, SMTP passwords, webhook secrets), comma-separated, newest first: the first encrypts, every one decrypts (default: SECRET_KEY alone). Rotate: README "Security"."""
    templates_reload: bool = True
    """TEMPLATES_RELOAD: look at the template files for changes on every render (default true in dev, false in prod: a
    deployed release's templates do not change, and the check is a stat() per template per render)."""
    webhook_allow_loopback: bool = False
    """WEBHOOK_ALLOW_LOOPBACK: outbound webhooks may go to 127.0.0.1 and ::1 (default false; for development and tests only, refused when SWITCHBOARD_ENV=prod). Private, link-local and other special addresses stay refused."""

    @property
    def is_dev(self) -> bool:
        return self.env == "dev"

    @property
    def encryption_keys(self) -> tuple[str, ...]:
        """The keyring of tenant secrets, newest first."""
        return self.secret_keys or (self.secret_key,)

    @property
    def allowed_origins(self) -> set[str]:
        parsed = urlparse(self.base_url)
        return {f"{parsed.scheme}://{parsed.netloc}"}


@dataclasses.dataclass(frozen=True)
class DatabaseSettings:
    url: str | None
    """DATABASE_URL: postgresql://user@host:port/db. Unset: `switchboard run` starts an embedded PostgreSQL in STATE_DIR."""
    pool_min: int
    """DB_POOL_MIN: connections kept open per process (default 2)."""
    pool_max: int
    """DB_POOL_MAX: most connections per process (default 20)."""
    pooler: str = "none"
    """DATABASE_POOLER: `none` (default: DATABASE_URL is PostgreSQL itself) or `pgbouncer` (DATABASE_URL goes through
    PgBouncer in transaction pooling mode: no prepared statement is cached or named, and the pool sends no session
    reset)."""
    direct_url: str | None = None
    """DATABASE_DIRECT_URL: PostgreSQL itself, bypassing any pooler, for what needs one session: the job queue's and
    the durable listeners' LISTEN, the queue's install lock (default DATABASE_URL)."""
    pool_max_queries: int = 100_000
    """DB_POOL_MAX_QUERIES: queries a pooled connection runs before it is replaced (default 100,000): a backstop for
    whatever else a long session accumulates; DB_POOL_MAX_SCHEMAS is what bounds its memory."""
    pool_max_schemas: int = 100
    """DB_POOL_MAX_SCHEMAS: tenant schemas a pooled connection serves before it is replaced (default 100). A
    PostgreSQL session keeps a cache entry for every table and index it has opened, in every schema, and never drops
    them: a connection that served every tenant holds hundreds of MB. Replacing it after this many schemas bounds
    that (docs/architecture.md), and a process serving a few busy shops keeps its connections and their plans."""


@dataclasses.dataclass(frozen=True)
class RedisSettings:
    url: str | None
    """REDIS_URL: redis://host:port/db for realtime fan-out, presence and rate limits. Unset: in-memory (one process)."""
    prefix: str = "sb"
    """REDIS_PREFIX: prefix of every Redis key and channel we use, so deployments and test runs sharing a server never meet (default sb)."""


@dataclasses.dataclass(frozen=True)
class MailSettings:
    smtp_host: str
    """SMTP_HOST: platform mail server for invitations and system mail (default 127.0.0.1: the dev catcher)."""
    smtp_port: int
    """SMTP_PORT: (default 1025, the port of the dev mail catcher)."""
    smtp_user: str | None
    """SMTP_USER: login for the platform mail server, if it needs one."""
    smtp_password: str | None
    """SMTP_PASSWORD: password for SMTP_USER."""
    smtp_tls: str
    """SMTP_TLS: `none`, `starttls` or `tls` (default none)."""
    from_address: str
    """MAIL_FROM: sender of platform mail (default Switchboard <no-reply@switchboard.localhost>)."""
    catcher: bool
    """MAIL_CATCHER: `switchboard run` starts a local SMTP catcher on SMTP_HOST:SMTP_PORT (default true in dev)."""
    mail_domain: str = "mail.switchboard.localhost"
    """MAIL_DOMAIN: domain of the shops' inbound addresses (`<slug>@MAIL_DOMAIN`); its MX points at `switchboard mail-in`."""
    mail_in_host: str = "127.0.0.1"
    """MAIL_IN_HOST: address the inbound SMTP listener binds to (default 127.0.0.1)."""
    mail_in_port: int = 2525
    """MAIL_IN_PORT: port of the inbound SMTP listener (default 2525)."""
    mail_in_max_bytes: int = 25 * 1024 * 1024
    """MAIL_IN_MAX_BYTES: largest inbound message accepted; bigger ones get SMTP 552 (default 25 MiB)."""


@dataclasses.dataclass(frozen=True)
class SecuritySettings:
    session_idle_minutes: int
    """SESSION_IDLE_MINUTES: a session unused this long expires (default 120)."""
    session_absolute_hours: int
    """SESSION_ABSOLUTE_HOURS: a session expires this long after login whatever its use (default 12)."""
    cookie_secure: bool
    """COOKIE_SECURE: mark cookies Secure (default: true when BASE_URL is https)."""
    login_max_failures: int
    """LOGIN_MAX_FAILURES: failed logins in a row before an account is locked with back-off (default 5)."""
    login_lock_seconds: int
    """LOGIN_LOCK_SECONDS: first lock-out; doubles with each further failure, capped at 1 hour (default 30)."""
    argon2_memory_kib: int
    """ARGON2_MEMORY_KIB: argon2id memory cost (default 19456 = 19 MiB, OWASP minimum)."""
    argon2_time_cost: int
    """ARGON2_TIME_COST: argon2id iterations (default 2)."""
    invite_days: int
    """INVITE_DAYS: how long an invitation link stays valid (default 7)."""
    auth_rate_per_minute: int
    """AUTH_RATE_PER_MINUTE: sign-in and signup POSTs allowed per client address per minute (default 30)."""
    chat_sessions_per_minute: int = 20
    """CHAT_SESSIONS_PER_MINUTE: web chat sessions a client address may start per shop per minute (default 20)."""
    chat_messages_per_minute: int = 20
    """CHAT_MESSAGES_PER_MINUTE: messages one web chat visitor may send per minute (default 20)."""
    chat_requests_per_minute: int = 600
    """CHAT_REQUESTS_PER_MINUTE: widget requests and socket opens per client address per shop per minute (600)."""
    api_rate_per_minute: int = 600
    """API_RATE_PER_MINUTE: requests one API key may make in any 60 seconds (sliding window; default 600); more get 429 with Retry-After."""
    tenant_api_rate_per_minute: int = 3000
    """TENANT_API_RATE_PER_MINUTE: requests all of one shop's API keys together may make in any 60 seconds (default 3000)."""


@dataclasses.dataclass(frozen=True)
class StorageSettings:
    backend: str
    """STORAGE_BACKEND: where uploaded files live: `local` (default; STATE_DIR/files) or `memory` (tests, lost at exit)."""
    upload_max_mb: int
    """UPLOAD_MAX_MB: largest file a user may attach to a contact, in MiB (default 25); bigger uploads get 413."""
    import_max_mb: int = 20
    """IMPORT_MAX_MB: largest CSV an admin may upload to import contacts, in MiB (default 20); bigger uploads get 413."""


@dataclasses.dataclass(frozen=True)
class JobSettings:
    stop_seconds: int = 10
    """WORKER_STOP_SECONDS: on SIGTERM/SIGINT a worker lets running jobs finish this long; jobs still running then go
    back to the queue and resume on the next worker (long jobs such as imports go back at their next batch at once)."""
    heartbeat_seconds: int = 30
    """JOB_HEARTBEAT_SECONDS: a job whose worker stopped beating this long (killed, frozen, cut off) is picked up by
    another worker (default 30; workers beat at half of it)."""
    concurrency: int = 0
    """WORKER_CONCURRENCY: most jobs one worker runs at once (`switchboard worker --concurrency N` sets it too; default
    0: no cap beyond the queue's batches of 10)."""
    import_batch_rows: int = 1_000
    """IMPORT_BATCH_ROWS: rows a contact import lands per transaction (default 1000): each batch is a few set-based
    statements and one progress event; a stopped worker's import resumes at its next batch. A batch holds one
    advisory lock per distinct phone and email until it commits, and PostgreSQL's lock table holds
    max_locks_per_transaction x max_connections (6,400 by default) for everyone: raise both together."""
    health_port: int | None = None
    """WORKER_HEALTH_PORT: `switchboard worker` and `switchboard mail-in` answer GET /health on 127.0.0.1:PORT (200
    or 503, JSON naming each part) for a process manager; unset: no health port (`--health-port` sets it too)."""


@dataclasses.dataclass(frozen=True)
class Settings:
    app: AppSettings
    db: DatabaseSettings
    redis: RedisSettings
    mail: MailSettings
    security: SecuritySettings
    storage: StorageSettings
    jobs: JobSettings = JobSettings()


def _dev_secret(state_dir: Path) -> str:
    path = state_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    state_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_settings() -> Settings:
    """Read and validate every setting; raise SettingsError naming the first bad variable."""
    env = _env("SWITCHBOARD_ENV", "dev")
    if env not in {"dev", "prod"}:
        raise SettingsError(f"SWITCHBOARD_ENV={env!r} must be `dev` or `prod`")
    state_dir = Path(_env("STATE_DIR", str(STATE_DIR_DEFAULT)) or ".state").resolve()
    host = _env("HOST", "127.0.0.1") or "127.0.0.1"
    port = _int("PORT", 8000, minimum=1)
    base_url = _url("BASE_URL", f"http://{host}:{port}", ("http", "https")) or ""
    secret = _env("SECRET_KEY")
    if secret is None:
        if env == "prod":
            raise SettingsError("SECRET_KEY is required when SWITCHBOARD_ENV=prod (32 or more random characters)")
        secret = _dev_secret(state_dir)
    if len(secret) < 32:
        raise SettingsError("SECRET_KEY must be at least 32 characters long")
    secret_keys = tuple(k.strip() for k in (_env("SECRET_KEYS", "") or "").split(",") if k.strip())
    if any(len(k) < 32 for k in secret_keys):
        raise SettingsError("SECRET_KEYS: every key must be at least 32 characters long (comma-separated, newest first)")
    if len(set(secret_keys)) != len(secret_keys):
        raise SettingsError("SECRET_KEYS names one key twice")
    db_url = _url("DATABASE_URL", None, ("postgresql", "postgres"))
    if env == "prod" and db_url is None:
        raise SettingsError("DATABASE_URL is required when SWITCHBOARD_ENV=prod")
    direct_url = _url("DATABASE_DIRECT_URL", None, ("postgresql", "postgres")) or db_url
    pooler = (_env("DATABASE_POOLER", "none") or "none").lower()
    if pooler not in {"none", "pgbouncer"}:
        raise SettingsError(f"DATABASE_POOLER={pooler!r} must be `none` or `pgbouncer`")
    pool_min = _int("DB_POOL_MIN", 2, minimum=1)
    pool_max = _int("DB_POOL_MAX", 20, minimum=1)
    pool_max_queries = _int("DB_POOL_MAX_QUERIES", 100_000, minimum=1)
    pool_max_schemas = _int("DB_POOL_MAX_SCHEMAS", 100, minimum=1)
    if pool_max < pool_min:
        raise SettingsError(f"DB_POOL_MAX={pool_max} must be at least DB_POOL_MIN={pool_min}")
    smtp_tls = _env("SMTP_TLS", "none") or "none"
    webhook_allow_loopback = _bool("WEBHOOK_ALLOW_LOOPBACK", False)
    if webhook_allow_loopback and env == "prod":
        raise SettingsError("WEBHOOK_ALLOW_LOOPBACK is for development and tests only: unset it when SWITCHBOARD_ENV=prod")
    if smtp_tls not in {"none", "starttls", "tls"}:
        raise SettingsError(f"SMTP_TLS={smtp_tls!r} must be none, starttls or tls")
    return Settings(
        app=AppSettings(
            env=env,
            base_url=base_url,
            host=host,
            port=port,
            secret_key=secret,
            secret_keys=secret_keys,
            state_dir=state_dir,
            embedded_worker=_bool("EMBEDDED_WORKER", True),
            workers=_int("WEB_WORKERS", 1, minimum=1),
            twilio_api_base=_url("TWILIO_API_BASE", "http://127.0.0.1:8010", ("http", "https")) or "",
            webhook_allow_loopback=webhook_allow_loopback,
            templates_reload=_bool("TEMPLATES_RELOAD", env == "dev"),
        ),
        db=DatabaseSettings(url=db_url, pool_min=pool_min, pool_max=pool_max, pooler=pooler, direct_url=direct_url,
                              pool_max_queries=pool_max_queries, pool_max_schemas=pool_max_schemas),
        redis=RedisSettings(url=_url("REDIS_URL", None, ("redis", "rediss", "unix")), prefix=_prefix("REDIS_PREFIX")),
        mail=MailSettings(
            smtp_host=_env("SMTP_HOST", "127.0.0.1") or "127.0.0.1",
            smtp_port=_int("SMTP_PORT", 1025, minimum=1),
            smtp_user=_env("SMTP_USER"),
            smtp_password=_env("SMTP_PASSWORD"),
            smtp_tls=smtp_tls,
            from_address=_env("MAIL_FROM", "Switchboard <no-reply@switchboard.localhost>") or "",
            catcher=_bool("MAIL_CATCHER", env == "dev"),
            mail_domain=(_env("MAIL_DOMAIN", "mail.switchboard.localhost") or "").lower(),
            mail_in_host=_env("MAIL_IN_HOST", "127.0.0.1") or "127.0.0.1",
            mail_in_port=_int("MAIL_IN_PORT", 2525, minimum=1),
            mail_in_max_bytes=_int("MAIL_IN_MAX_BYTES", 25 * 1024 * 1024, minimum=1024),
        ),
        security=SecuritySettings(
            session_idle_minutes=_int("SESSION_IDLE_MINUTES", 120, minimum=1),
            session_absolute_hours=_int("SESSION_ABSOLUTE_HOURS", 12, minimum=1),
            cookie_secure=_bool("COOKIE_SECURE", base_url.startswith("https://")),
            login_max_failures=_int("LOGIN_MAX_FAILURES", 5, minimum=1),
            login_lock_seconds=_int("LOGIN_LOCK_SECONDS", 30, minimum=1),
            argon2_memory_kib=_int("ARGON2_MEMORY_KIB", 19456, minimum=19456),
            argon2_time_cost=_int("ARGON2_TIME_COST", 2, minimum=2),
            invite_days=_int("INVITE_DAYS", 7, minimum=1),
            auth_rate_per_minute=_int("AUTH_RATE_PER_MINUTE", 30, minimum=1),
            chat_sessions_per_minute=_int("CHAT_SESSIONS_PER_MINUTE", 20, minimum=1),
            chat_messages_per_minute=_int("CHAT_MESSAGES_PER_MINUTE", 20, minimum=1),
            chat_requests_per_minute=_int("CHAT_REQUESTS_PER_MINUTE", 600, minimum=1),
            api_rate_per_minute=_int("API_RATE_PER_MINUTE", 600, minimum=1),
            tenant_api_rate_per_minute=_int("TENANT_API_RATE_PER_MINUTE", 3000, minimum=1),
        ),
        storage=StorageSettings(backend=_storage_backend(), upload_max_mb=_int("UPLOAD_MAX_MB", 25, minimum=1),
                                 import_max_mb=_int("IMPORT_MAX_MB", 20, minimum=1)),
        jobs=JobSettings(stop_seconds=_int("WORKER_STOP_SECONDS", 10, minimum=0),
                         heartbeat_seconds=_int("JOB_HEARTBEAT_SECONDS", 30, minimum=2),
                         concurrency=_int("WORKER_CONCURRENCY", 0, minimum=0),
                         import_batch_rows=_int("IMPORT_BATCH_ROWS", 1_000, minimum=1),
                         health_port=_int("WORKER_HEALTH_PORT", 0, minimum=0) or None),
    )


def _storage_backend() -> str:
    backend = _env("STORAGE_BACKEND", "local") or "local"
    if backend not in {"local", "memory"}:
        raise SettingsError(f"STORAGE_BACKEND={backend!r} must be `local` or `memory`")
    return backend


@functools.cache
def get_settings() -> Settings:
    return load_settings()
