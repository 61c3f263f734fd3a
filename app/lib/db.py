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
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import structlog
from piccolo.engine.postgres import PostgresTransaction

from app.lib.engine import DB
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

    def keep_on_error(self) -> None:
        """Commit what was written even though the request ends in an error (audit of failed logins)."""
        self.commit_on_error = True


_current_uow: contextvars.ContextVar[UnitOfWork | None] = contextvars.ContextVar("sb_uow", default=None)
_current_tenant: contextvars.ContextVar[TenantRef | None] = contextvars.ContextVar("sb_tenant", default=None)


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
    async with DB.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, slug, schema_name, name FROM public.tenant WHERE slug = $1 AND status = 'active'", slug)
    return TenantRef(id=row["id"], slug=row["slug"], schema=row["schema_name"], name=row["name"]) if row else None


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
    conn: asyncpg.Connection = await pool.acquire()
    uow = UnitOfWork(schema=schema, tenant=tenant, connection=conn)
    piccolo_tx = PostgresTransaction(engine=DB)
    try:
        tx = conn.transaction()
        await tx.start()
        piccolo_tx.connection = conn
        piccolo_tx.transaction = tx
        await conn.execute(f"SET LOCAL search_path TO {quote_schema(schema)}")
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
        finally:
            DB.current_transaction.reset(piccolo_token)
            _current_tenant.reset(tenant_token)
            _current_uow.reset(uow_token)
    finally:
        # asyncpg shields release: it rolls back anything left open, or discards a connection broken mid-query.
        await pool.release(conn)
    for fn in uow._after_commit:
        try:
            await fn()
        except Exception:  # an after-commit hook must not turn a committed request into an error
            log.exception("after_commit_failed", schema=schema)


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


async def start_database(dsn: str, min_size: int = 2, max_size: int = 20) -> bool:
    """Point Piccolo's engine at `dsn` and open the pool; connections start with no tenant schema selected.
    Returns False when a pool was already open (its owner closes it)."""
    if DB.pool is not None:
        return False
    DB.config = {
        "dsn": dsn,
        "server_settings": {"search_path": NO_TENANT_SEARCH_PATH, "application_name": "switchboard"},
    }
    await DB.start_connection_pool(min_size=min_size, max_size=max_size)
    return True


async def stop_database() -> None:
    if DB.pool is not None:
        await DB.close_connection_pool()


async def raw_connect(dsn: str | None = None) -> asyncpg.Connection:
    """A dedicated connection outside the pool (LISTEN for the job queue, admin tasks)."""
    return await asyncpg.connect(
        dsn or DB.config["dsn"], server_settings={"search_path": NO_TENANT_SEARCH_PATH}
    )
