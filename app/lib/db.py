"""Database lifecycle and units of work: every query runs inside exactly one schema, chosen per unit of work.

`tenant_context(tenant)` is the single entry point used by HTTP requests, websockets, jobs, the CLI and tests.
It opens a transaction on a pooled connection and runs `SET LOCAL search_path` as its first statement, so the
schema choice dies with the transaction and can never leak to the next user of the connection, even when the
work is cancelled mid-query (asyncpg's shielded release rolls back or discards the connection).
Pool connections start with a search_path that names no schema, so a tenant query outside a unit of work
fails loudly instead of falling back to `public`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import re
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import asyncpg.pool
import asyncpg.transaction
import msgspec
import structlog
from asyncpg.transaction import TransactionState
from piccolo.engine.postgres import PostgresTransaction

from app.lib.engine import DB
from app.lib.lru import LRU
from app.settings import SettingsError, get_settings

log = structlog.get_logger(__name__)

NO_TENANT_SEARCH_PATH = "sb_no_tenant_selected"
SCHEMA_RE = re.compile(r"^(t_[a-z][a-z0-9_]{2,40}|public)$")
SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{2,40}$")
"""A tenant slug (tenants.services.validate_slug says why one is refused); its schema is `t_<slug>`."""


class NoTenantError(RuntimeError):
    """Tenant data was touched with no tenant selected."""


@dataclasses.dataclass(frozen=True)
class TenantRef:
    """The tenant a unit of work runs for; resolved from the registry in `public`."""

    id: int
    slug: str
    schema: str
    name: str = ""


@dataclasses.dataclass
class UnitOfWork:
    """One transaction in one schema, with work to run once it has committed."""

    schema: str
    tenant: TenantRef | None
    connection: asyncpg.Connection
    commit_on_error: bool = False
    _after_commit: list[Callable[[], Awaitable[None]]] = dataclasses.field(default_factory=list)

    def after_commit(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Run `fn` only if and after this transaction commits (events, notifications)."""
        self._after_commit.append(fn)

    def after_commit_once(self, fn: Callable[[], Awaitable[None]]) -> None:
        """`after_commit(fn)` unless an equal `fn` is registered already (one wake-up per unit of work)."""
        if fn not in self._after_commit:
            self._after_commit.append(fn)

    def keep_on_error(self) -> None:
        """Commit what was written even though the request ends in an error (audit of failed logins)."""
        self.commit_on_error = True

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A savepoint: when the block raises, its writes are undone and so are the after-commit hooks it added
        (an event it emitted is not sent for rows that never committed); the rest of the unit of work goes on."""
        hooks = len(self._after_commit)
        try:
            async with self.connection.transaction():
                yield
        except BaseException:
            del self._after_commit[hooks:]
            raise


_current_uow: contextvars.ContextVar[UnitOfWork | None] = contextvars.ContextVar("sb_uow", default=None)
_current_tenant: contextvars.ContextVar[TenantRef | None] = contextvars.ContextVar("sb_tenant", default=None)


def jsonb(value: Any) -> Any:
    """A `jsonb` value as the pool returns it (text: no jsonb codec is set up, writes pass JSON text to `$n::jsonb`),
    decoded; NULL (None) or an already decoded value passes through."""
    return msgspec.json.decode(value) if isinstance(value, (str, bytes)) else value


async def save_single_row(table: Any, values: dict[Any, Any], row_id: int | None) -> None:
    """Write `values` (column -> value) into a tenant's one-row settings table (email account, Twilio line, chat
    settings): update row `row_id`, or insert the row the first time (None)."""
    if row_id is None:
        await table.insert(table(**{column._meta.name: value for column, value in values.items()}))
    else:
        await table.update(values).where(table.id == row_id)


async def resolve_active(slug: str) -> TenantRef | None:
    """The tenant behind a URL slug, or None for unknown *and* suspended slugs (one answer: no probing).
    Hand-written SQL on a pooled connection: every tenant request runs it before its unit of work opens."""
    if not SLUG_RE.match(slug):
        return None
    try:
        row = await _tenant_row(slug)
    except DEAD_CONNECTION:
        # The server ended the pool's sessions (a restart, a failover, an administrator): every idle connection is
        # dead, the pool finds out one query at a time. Replace them all and ask once more, on a fresh one.
        await DB.pool.expire_connections()
        row = await _tenant_row(slug)
    return TenantRef(id=row["id"], slug=row["slug"], schema=row["schema_name"], name=row["name"]) if row else None


DEAD_CONNECTION = (asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.exceptions.AdminShutdownError,
                   asyncpg.exceptions.InterfaceError, ConnectionError)
"""What a query on a pooled connection raises when the server ended that session."""


async def _tenant_row(slug: str) -> asyncpg.Record | None:
    async with DB.pool.acquire() as conn:
        return await conn.fetchrow(
            "SELECT id, slug, schema_name, name FROM public.tenant WHERE slug = $1 AND status = 'active'", slug)


TENANT_CACHE_SECONDS = 5.0
"""How long a process answers a slug from memory: a suspension made by *another* process (the CLI, a second web
process) shows within this time; one made in this process at once (`forget_tenant`)."""
TENANT_CACHE_MAX = 4_096
"""Slugs remembered (the most recently used): an entry is good for TENANT_CACHE_SECONDS only, so more than the
tenants served in that time would only hold memory."""
_tenant_cache: LRU[str, tuple[float, TenantRef]] = LRU(TENANT_CACHE_MAX)


async def resolve_active_cached(slug: str) -> TenantRef | None:
    """`resolve_active` for the per-request routing: an active tenant is remembered for TENANT_CACHE_SECONDS, keyed
    by its slug (the tenant's own name, so one tenant's entry can never answer for another). Unknown and suspended
    slugs are not remembered: a new shop answers at once, and the answer for them is the same 404."""
    hit = _tenant_cache.get(slug)
    clock = time.monotonic()
    if hit is not None and hit[0] > clock:
        return hit[1]
    tenant = await resolve_active(slug)
    if tenant is None:
        _tenant_cache.pop(slug, None)
        return None
    _tenant_cache[slug] = (clock + TENANT_CACHE_SECONDS, tenant)
    return tenant


def forget_tenant(slug: str) -> None:
    """Drop `slug` from this process's cache once the change to its registry row is visible: after the open unit
    of work commits, or now when none is open (suspension, rename)."""
    uow = _current_uow.get()

    async def forget() -> None:
        _tenant_cache.pop(slug, None)

    _tenant_cache.pop(slug, None)
    if uow is not None:
        uow.after_commit(forget)  # a request between now and the commit may have cached the old row again


def quote_schema(schema: str) -> str:
    if not SCHEMA_RE.match(schema):
        raise ValueError(f"refusing unsafe schema name {schema!r}")
    return '"' + schema + '"'


def current_uow() -> UnitOfWork:
    uow = _current_uow.get()
    if uow is None:
        raise NoTenantError("no unit of work is open: wrap tenant work in tenant_context(tenant)")
    return uow


def current_tenant() -> TenantRef:
    tenant = _current_tenant.get()
    if tenant is None:
        raise NoTenantError("no tenant selected: wrap tenant work in tenant_context(tenant)")
    return tenant


def maybe_current_tenant() -> TenantRef | None:
    return _current_tenant.get()


@contextlib.contextmanager
def tenant_selected(tenant: TenantRef | None) -> Any:
    """Mark `tenant` as the current tenant without opening a transaction (websockets between units of work)."""
    token = _current_tenant.set(tenant)
    try:
        yield tenant
    finally:
        _current_tenant.reset(token)


_WANTED_SCHEMA: contextvars.ContextVar[str | None] = contextvars.ContextVar("sb_wanted_schema", default=None)
_LAST_SCHEMA: weakref.WeakKeyDictionary[asyncpg.Connection, str] = weakref.WeakKeyDictionary()
"""The schema each pooled connection last ran a unit of work in (see `_SchemaAffineQueue`)."""
_SCHEMAS_SERVED: weakref.WeakKeyDictionary[asyncpg.Connection, set[str]] = weakref.WeakKeyDictionary()


def _served(conn: asyncpg.Connection, schema: str) -> bool:
    """Note that `conn` runs a unit of work in `schema`; True when that makes DB_POOL_MAX_SCHEMAS schemas: the
    connection is closed after this unit of work and the pool opens a new one. A PostgreSQL session keeps a cache
    entry for every table and index it opened, in every schema, and never drops them: bounding the schemas one
    session serves bounds its memory however many tenants the process serves, without replacing the connections
    of a process that serves a few busy tenants (each new connection plans its statements again)."""
    _LAST_SCHEMA[conn] = schema
    seen = _SCHEMAS_SERVED.get(conn)
    if seen is None:
        seen = _SCHEMAS_SERVED[conn] = set()
    seen.add(schema)
    return len(seen) >= get_settings().db.pool_max_schemas


class _SchemaAffineQueue(asyncpg.pool._PoolConnectionHolderQueue):
    """The pool's idle connections, handed to a unit of work of schema S preferring one that last worked in S.

    PostgreSQL re-plans a prepared statement whose search_path differs from the one it was planned under (its plan
    cache checks the path on every execution), and every unit of work sets its tenant's path: on a connection that
    served another tenant last, each statement is planned again. Measured on the console bench (10 shops, 200
    events/s): planning was 80% of PostgreSQL's time for the renders' statements (pg_stat_statements: 0.25 ms to
    plan, 0.05 ms to run each). So a unit of work takes, in order: an idle connection that last served its schema
    (most recently released first); a connected one that served none yet; one not connected yet (the pool opens it,
    up to its max size: a busy tenant gets connections of its own); else the one idle longest (its tenant is the
    least likely to want it back). Units of work outside a schema (`DB.pool.acquire()`) keep asyncpg's order."""

    def _get(self) -> Any:
        wanted = _WANTED_SCHEMA.get()
        if wanted is None:
            return super()._get()
        holders = self._queue
        unused = unconnected = None
        for i in range(len(holders) - 1, -1, -1):  # most recently released first
            if not holders[i].is_connected():
                unconnected = i if unconnected is None else unconnected
                continue
            last = _LAST_SCHEMA.get(holders[i]._con)
            if last == wanted:
                return holders.pop(i)
            if last is None and unused is None:
                unused = i
        for choice in (unused, unconnected):
            if choice is not None:
                return holders.pop(choice)
        return holders.pop(0)


def _make_schema_affine(pool: asyncpg.Pool) -> bool:
    """Swap the pool's queue of idle connections for a `_SchemaAffineQueue` (at start, nothing waiting on it).
    Only over the queue class of the asyncpg this was written for (pinned in pyproject): anything else keeps
    asyncpg's own order, which is correct, only slower."""
    queue = getattr(pool, "_queue", None)
    if type(queue) is not asyncpg.pool._PoolConnectionHolderQueue or queue._getters:
        return False
    affine = _SchemaAffineQueue(maxsize=queue.maxsize)
    while not queue.empty():
        affine._queue.insert(0, queue._queue.pop())
        affine._unfinished_tasks += 1
    pool._queue = affine
    return True


@contextlib.asynccontextmanager
async def schema_transaction(schema: str, tenant: TenantRef | None = None) -> AsyncIterator[UnitOfWork]:
    """A transaction whose first statement pins `search_path` to `schema` alone."""
    outer = _current_uow.get()
    if outer is not None:
        if outer.schema != schema:
            raise RuntimeError(f"unit of work for {outer.schema!r} is open; refusing to nest {schema!r} inside it")
        yield outer
        return
    pool = DB.pool
    if pool is None:
        raise RuntimeError("database pool is not started")
    wanted = _WANTED_SCHEMA.set(schema)
    try:
        conn: asyncpg.Connection = await pool.acquire()
    finally:
        _WANTED_SCHEMA.reset(wanted)
    raw = getattr(conn, "_con", None)
    retire = raw is not None and _served(raw, schema)
    uow_committed = False
    uow = UnitOfWork(schema=schema, tenant=tenant, connection=conn)
    piccolo_tx = PostgresTransaction(engine=DB)
    try:
        tx = conn.transaction()
        await _begin_in_schema(conn, tx, schema)
        piccolo_tx.connection = conn
        piccolo_tx.transaction = tx
        uow_token = _current_uow.set(uow)
        tenant_token = _current_tenant.set(tenant)
        piccolo_token = DB.current_transaction.set(piccolo_tx)
        try:
            try:
                yield uow
            except BaseException:
                if uow.commit_on_error and not conn.is_closed():
                    await tx.commit()
                else:
                    await _rollback_quietly(tx)
                raise
            else:
                await tx.commit()
                uow_committed = True
        finally:
            DB.current_transaction.reset(piccolo_token)
            _current_tenant.reset(tenant_token)
            _current_uow.reset(uow_token)
    finally:
        if uow_committed:
            _clean.add(tx._connection)
        try:
            if retire and not raw.is_closed():
                # Closed here, the pool opens a fresh connection in its place (asyncpg's holder, as for max_queries).
                with contextlib.suppress(Exception):
                    await asyncio.shield(raw.close(timeout=5))
        finally:
            # asyncpg shields release: it rolls back anything left open, or discards a connection broken mid-query.
            await pool.release(conn)
    for fn in uow._after_commit:
        try:
            await fn()
        except Exception:  # an after-commit hook must not turn a committed request into an error
            log.exception("after_commit_failed", schema=schema)


async def _begin_in_schema(conn: asyncpg.Connection, tx: asyncpg.transaction.Transaction, schema: str) -> None:
    """`tx.start()` and `SET LOCAL search_path` in ONE round trip (`BEGIN; SET LOCAL ...` as one simple query):
    every unit of work pays one trip less to PostgreSQL, which on a loaded machine is most of a small request's cost.
    Does the bookkeeping of asyncpg's Transaction.start() (asyncpg is pinned in pyproject), so `tx.commit()`,
    `tx.rollback()`, savepoints (`conn.transaction()` inside) and the pool's release work as after `tx.start()`;
    test_db_units checks that they do."""
    sql = f"BEGIN; SET LOCAL search_path TO {quote_schema(schema)}"
    raw = tx._connection  # the Connection behind the pool's proxy
    if raw._top_xact is not None or raw.is_in_transaction():
        raise asyncpg.InterfaceError("cannot open a unit of work inside a transaction")
    raw._top_xact = tx
    try:
        await conn.execute(sql)
    except BaseException:
        tx._state = TransactionState.FAILED
        raise
    tx._state = TransactionState.STARTED


_clean: weakref.WeakSet[asyncpg.Connection] = weakref.WeakSet()
"""Connections whose last use was a unit of work that committed: nothing of it outlives the transaction."""


async def _reset_on_release(conn: asyncpg.Connection) -> None:
    """The pool's reset. asyncpg's default sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`
    on every release, one more round trip per request. After a committed unit of work there is nothing for it to
    undo: units of work keep to transaction-scoped state (`SET LOCAL`, `pg_advisory_xact_lock`, cursors that close
    at commit; LISTEN and session locks use `raw_connect`), so only other uses of a pooled connection (Piccolo
    outside a unit of work, a unit of work that failed) get the full reset. asyncpg has already rolled back any open
    transaction and dropped listeners before calling this."""
    if conn in _clean:
        _clean.discard(conn)
        return
    await conn.reset()


@contextlib.asynccontextmanager
async def stateless() -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection, outside any unit of work, for statements that leave nothing in the session (no `SET`,
    no session lock, no LISTEN, no cursor, no open transaction): the publisher's `pg_notify` after every commit.
    Released like a committed unit of work's, without the pool's reset (one round trip less) when the block
    finished cleanly; after an error, or with a transaction still open, the full reset as usual."""
    pool = DB.pool
    if pool is None:
        raise RuntimeError("database pool is not started")
    conn: asyncpg.Connection = await pool.acquire()
    try:
        yield conn
        if not conn.is_in_transaction():
            _clean.add(conn._con)  # the Connection behind the pool's proxy, as the reset hook sees it
    finally:
        await pool.release(conn)


@contextlib.asynccontextmanager
async def repinned(uow: UnitOfWork, schema: str, tenant: TenantRef | None) -> AsyncIterator[UnitOfWork]:
    """The open unit of work, pinned to `schema` for the block: several schemas' work in ONE transaction (batched
    migrations; all commit together or none does). Back to the schema it had afterwards."""
    if _current_uow.get() is not uow:
        raise RuntimeError("repinned() needs the unit of work that is open here")
    before = (uow.schema, uow.tenant)
    await uow.connection.execute(f"SET LOCAL search_path TO {quote_schema(schema)}")
    uow.schema, uow.tenant = schema, tenant
    token = _current_tenant.set(tenant)
    try:
        yield uow
    finally:
        _current_tenant.reset(token)
        uow.schema, uow.tenant = before
    # Only on success: after an error the transaction is aborted and rolls back as a whole.
    await uow.connection.execute(f"SET LOCAL search_path TO {quote_schema(before[0])}")


async def _rollback_quietly(tx: Any) -> None:
    try:
        await asyncio.shield(tx.rollback())
    except Exception:  # the connection may be broken (cancelled mid-query); release discards it
        log.debug("rollback_failed")


def tenant_context(tenant: TenantRef) -> contextlib.AbstractAsyncContextManager[UnitOfWork]:
    """The one way into a tenant's data: a transaction pinned to the tenant's schema."""
    return schema_transaction(tenant.schema, tenant)


def platform_context() -> contextlib.AbstractAsyncContextManager[UnitOfWork]:
    """A transaction in `public`, for the tenant registry and other platform-wide tables."""
    return schema_transaction("public", None)


def database_url() -> str:
    url = get_settings().db.url
    if not url:
        raise SettingsError("DATABASE_URL is not set: export it, or use `switchboard run`, which starts an embedded "
                            "PostgreSQL when it is unset.")
    return url


IDLE_IN_TRANSACTION_TIMEOUT = "60s"
"""The server ends a transaction of the app left idle this long (see realtime.log: open ones delay events)."""


def direct_database_url() -> str:
    """PostgreSQL itself, bypassing a pooler (DATABASE_DIRECT_URL, default DATABASE_URL): for LISTEN and the other
    things that need one session, which PgBouncer's transaction pooling does not keep."""
    return get_settings().db.direct_url or database_url()


async def _no_session_reset(conn: asyncpg.Connection) -> None:
    """Releasing a connection through PgBouncer (transaction mode): asyncpg still rolls back an open transaction
    first; its default reset (`RESET ALL`, `UNLISTEN *`, `pg_advisory_unlock_all()`) would only run on whichever
    server connection PgBouncer lends, where no session state of ours lives (our settings are `SET LOCAL`)."""


def pool_config(dsn: str, pooler: str | None = None) -> dict[str, Any]:
    """asyncpg connection arguments for the pool (and Piccolo's own one-off connections).

    Through PgBouncer in transaction mode (`DATABASE_POOLER=pgbouncer`) consecutive transactions of one client
    connection run on different server connections: named prepared statements (asyncpg's statement cache) would be
    missing or collide there, so the cache is off (asyncpg then uses the unnamed statement, parsed and run within
    one round of messages), and the start-up `search_path` is left out (PgBouncer does not pass it on; tenant code
    still fails loudly outside a unit of work because `public` holds no tenant tables)."""
    pooler = pooler or get_settings().db.pooler
    if pooler == "pgbouncer":
        return {"dsn": dsn, "statement_cache_size": 0, "server_settings": {"application_name": "switchboard"}}
    # An open transaction holds back every tenant's event delivery (realtime.log, the safe horizon): one the app
    # leaves idle is ended by the server after a minute. (PgBouncer refuses this start-up parameter: behind it,
    # set it on the role, `ALTER ROLE ... SET idle_in_transaction_session_timeout = '60s'`, see the README.)
    return {"dsn": dsn,
            "server_settings": {"search_path": NO_TENANT_SEARCH_PATH, "application_name": "switchboard",
                                "idle_in_transaction_session_timeout": IDLE_IN_TRANSACTION_TIMEOUT}}


async def start_database(dsn: str, min_size: int = 2, max_size: int = 20, pooler: str | None = None) -> bool:
    """Point Piccolo's engine at `dsn` and open the pool; connections start with no tenant schema selected.
    Returns False when a pool was already open (its owner closes it)."""
    if DB.pool is not None:
        return False
    DB.config = pool_config(dsn, pooler)
    pooled = (pooler or get_settings().db.pooler) == "pgbouncer"
    # A session caches every relation it opened, in every tenant schema, for its whole life: replacing each
    # connection after DB_POOL_MAX_QUERIES keeps the server's memory per connection bounded however many tenants
    # the process serves.
    await DB.start_connection_pool(min_size=min_size, max_size=max_size, max_queries=get_settings().db.pool_max_queries,
                                   reset=_no_session_reset if pooled else _reset_on_release)
    if not pooled:  # behind PgBouncer a client connection is no server session: there is no plan to keep
        _make_schema_affine(DB.pool)
    return True


async def stop_database() -> None:
    if DB.pool is not None:
        await DB.close_connection_pool()


async def raw_connect(dsn: str | None = None) -> asyncpg.Connection:
    """A dedicated connection outside the pool (LISTEN for the job queue, admin tasks), straight to PostgreSQL:
    `dsn`, else DATABASE_DIRECT_URL (never through a transaction-pooling PgBouncer, which cannot LISTEN)."""
    return await asyncpg.connect(
        dsn or get_settings().db.direct_url or DB.config["dsn"], server_settings={"search_path": NO_TENANT_SEARCH_PATH}
    )
