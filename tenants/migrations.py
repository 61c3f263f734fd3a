"""Piccolo migrations, run schema by schema: each schema keeps its own `migration` table.

Platform apps migrate `public` once; tenant apps migrate every tenant schema. A schema is migrated in one
transaction (Piccolo's DDL nests into it), so a failure leaves that schema exactly as it was. An empty schema
(a signup, new schemas under `switchboard migrate`) replays the SQL recorded when this process migrated its first
empty schema, instead of rebuilding every migration's manager: the same statements, one round trip.

`survey()` tells, for many schemas at once, how far each is: a few statements over the pool (each reads the
`migration` tables of SURVEY_CHUNK schemas), not a connection and transaction per schema, so checking 10,000
schemas that are all at head takes seconds. It reads the schemas' own `migration` tables, the only record of what
a schema has applied; nothing is cached beside them that could disagree.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from types import ModuleType
from typing import Any

import asyncpg
from asyncpg.connection import LoggedQuery
from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.tables import Migration
from piccolo.conf.apps import Finder

from app.lib.db import current_uow, quote_schema
from app.lib.engine import DB
from tenants import baseline

PLATFORM_APPS = ("platform",)


@functools.cache
def tenant_apps() -> tuple[str, ...]:
    """Every app of Piccolo's registry but the platform's, in the registry's order (app/piccolo_conf.py builds it
    from the domains' manifests, each after the apps its tables point at)."""
    return tuple(name for name in Finder().get_app_registry().app_configs if name not in PLATFORM_APPS)


def __getattr__(name: str) -> Any:
    # `migrations.TENANT_APPS` reads the registry when first asked, not at import: tenants sits below the domains.
    if name == "TENANT_APPS":
        return tenant_apps()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def migration_modules(app_name: str) -> tuple[tuple[str, ModuleType], ...]:
    """The app's migration modules, oldest first (imported once per process)."""
    app_config = Finder().get_app_config(app_name)
    modules = BaseMigrationManager().get_migration_modules(app_config.resolved_migrations_folder_path)
    return tuple(sorted(modules.items()))


def head(apps: tuple[str, ...]) -> set[tuple[str, str]]:
    return {(app, mid) for app in apps for mid, _ in migration_modules(app)}


async def applied(apps: tuple[str, ...]) -> set[tuple[str, str]]:
    """What the current schema has applied (call inside its unit of work)."""
    if not await _migration_table_exists():
        return set()
    rows = await Migration.select(Migration.app_name, Migration.name).where(Migration.app_name.is_in(list(apps)))
    return {(r["app_name"], r["name"]) for r in rows}


async def pending(apps: tuple[str, ...]) -> list[tuple[str, str]]:
    return sorted(head(apps) - await applied(apps), key=lambda x: (apps.index(x[0]), x[1]))


SURVEY_CHUNK = 250
"""Schemas read by one survey statement. It holds a lock on every `migration` table it read until it ends, and
PostgreSQL's lock table is sized for ~64 locks per connection (max_locks_per_transaction): a few chunks at once fit."""

_SURVEY_SQL = """
SELECT s AS schema, (xpath('/row/n/text()', query_to_xml(format(
    'SELECT count(DISTINCT app_name || '':'' || name) FILTER (WHERE app_name || '':'' || name = ANY(%L::text[])) AS n '
    'FROM %I.migration', $1::text, s), false, true, '')))[1]::text::int AS applied
FROM unnest($2::text[]) AS s
"""
"""Each schema's count runs as its own small statement inside the server (query_to_xml), in one round trip: a
UNION ALL of hundreds of branches spends longer being planned than run."""


_XML: dict[str, bool] = {}
"""Whether this server has query_to_xml (PostgreSQL built without libxml, like the embedded one, has not)."""


async def _xml_available(conn: Any) -> bool:
    key = str(DB.config.get("dsn", ""))
    if key not in _XML:
        try:
            async with conn.transaction():  # a savepoint: the refusal must not end the survey's transaction
                await conn.fetchval("SELECT query_to_xml('SELECT 1 AS n', false, true, '')")
            _XML[key] = True
        except asyncpg.FeatureNotSupportedError:
            _XML[key] = False
    return _XML[key]


def _survey_union(schemas: list[str]) -> str:
    """The survey as one UNION ALL (slower to plan, works without XML support): $1 the wanted ids, $2... the
    schemas' names; each name is checked (quote_schema) before it is spelled in the SQL."""
    count = "(count(DISTINCT app_name || ':' || name) FILTER (WHERE app_name || ':' || name = ANY($1::text[])))::int"
    return " UNION ALL ".join(f"SELECT ${i + 2}::text AS schema, {count} AS applied FROM {quote_schema(s)}.migration"  # noqa: S608 - names checked
                              for i, s in enumerate(schemas))


async def survey(schemas: list[str], apps: tuple[str, ...], *, concurrency: int = 2) -> dict[str, int]:
    """How many of the `apps`' head migrations each schema has applied: a schema at head has len(head(apps)), an
    empty schema (no `migration` table, or an empty one) 0. Reads SURVEY_CHUNK schemas per statement, `concurrency`
    statements at once; no transaction per schema."""
    wanted = "{" + ",".join(sorted(f"{app}:{mid}" for app, mid in head(apps))) + "}"
    out: dict[str, int] = dict.fromkeys(schemas, 0)
    gate = asyncio.Semaphore(max(1, concurrency))
    # Which schemas have a `migration` table: ONE catalog query for all of them, an index lookup per name (asked
    # per chunk of 250 with `nspname = ANY(...)` it took 250 ms for 5,000 schemas; this 8-10 ms).
    async with DB.pool.acquire() as conn:
        found = {r["nspname"] for r in await conn.fetch(
            "SELECT s AS nspname FROM unnest($1::text[]) AS s JOIN pg_namespace n ON n.nspname = s "
            "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = 'migration' AND c.relkind = 'r'", schemas)}
    present = [s for s in schemas if s in found]

    async def chunk(part: list[str]) -> None:
        async with gate, DB.pool.acquire() as conn, conn.transaction(readonly=True):
            if await _xml_available(conn):
                rows = await conn.fetch(_SURVEY_SQL, wanted, part)
            else:
                rows = await conn.fetch(_survey_union(part), wanted[1:-1].split(","), *part)
            for row in rows:
                out[row["schema"]] = row["applied"]

    await asyncio.gather(*(chunk(present[i:i + SURVEY_CHUNK]) for i in range(0, len(present), SURVEY_CHUNK)))
    return out


Statement = tuple[str, tuple[Any, ...]]
_FRESH_PLANS: dict[tuple[tuple[str, ...], str], tuple[Statement, ...]] = {}
"""Per process, per app list and database: the SQL that took an empty schema to head, recorded the first time one
was migrated. Every later empty schema (a signup, `switchboard migrate` over new schemas) replays it: the same
statements in the same order, without building each migration's Piccolo manager again (most of a fresh schema's
Python time). Tenant migrations may look at the database (is pg_trgm installed?) but not at data or the clock:
what they do to an empty schema must be the same every time in one database."""


async def migrate_current_schema(apps: tuple[str, ...], *, use_baseline: bool = True) -> list[str]:
    """Bring the schema of the open unit of work to head for `apps`; return the migration ids applied.

    All of it runs in the caller's transaction, so a crash leaves the schema as it was and a re-run resumes.
    An empty schema runs the baseline script (tenants/baseline.py) when it fits this database, then the migrations
    newer than it; without one it replays the statements recorded when the first empty schema was migrated in this
    process."""
    await Migration.create_table(if_not_exists=True)
    done = await applied(apps)
    todo = [(app, mid, module) for app in apps for mid, module in migration_modules(app) if (app, mid) not in done]
    if not todo:
        return []
    connection = current_uow().connection
    if not done and use_baseline and (snapshot := await _usable_baseline(connection, apps)) is not None:
        await connection.execute(snapshot.script)
        for app, mid, module in todo:
            if (app, mid) not in snapshot.migrations:
                manager = await module.forwards()
                if isinstance(manager, MigrationManager):
                    await _apply(manager)
        await Migration.insert(*(Migration(name=mid, app_name=app) for app, mid, _ in todo))
        return [f"{app}:{mid}" for app, mid, _ in todo]
    key = (apps, await _database(connection)) if not done else None
    plan = _FRESH_PLANS.get(key) if key else None
    if plan is not None:
        await _replay(connection, plan)
    else:
        recorded: list[Statement] = []

        def record(query: LoggedQuery) -> None:
            recorded.append((query.query, tuple(query.args)) if query.exception is None else ("", ()))

        if not done:
            connection.add_query_logger(record)
        try:
            for _app, _mid, module in todo:
                manager = await module.forwards()
                if isinstance(manager, MigrationManager):
                    await _apply(manager)
            await asyncio.sleep(0)  # asyncpg calls loggers with call_soon: let the last statement's call run
        finally:
            if not done:
                connection.remove_query_logger(record)
        if key and all(query for query, _ in recorded):
            _FRESH_PLANS.setdefault(key, tuple(recorded))
    await Migration.insert(*(Migration(name=mid, app_name=app) for app, mid, _ in todo))
    return [f"{app}:{mid}" for app, mid, _ in todo]


_BASELINE_FITS: dict[str, bool] = {}
"""Per database: whether its extensions are the ones the baseline was generated with."""


async def _usable_baseline(connection: Any, apps: tuple[str, ...]) -> baseline.Baseline | None:
    """The baseline, when it covers only migrations of `apps` that exist and this database has the extensions it was
    made with (migrations may look at them: baseline.fits); else None and the migrations run."""
    snapshot = baseline.load()
    if snapshot is None or not snapshot.migrations <= head(apps):
        return None
    key = await _database(connection)
    if key not in _BASELINE_FITS:
        _BASELINE_FITS[key] = baseline.fits(snapshot, await baseline.database_extensions(connection))
    return snapshot if _BASELINE_FITS[key] else None


async def _database(connection: Any) -> str:
    """Which database this is (a process may migrate in several, e.g. the benchmarks' throwaway ones)."""
    return str(await connection.fetchval(
        "SELECT current_database() || '@' || coalesce(inet_server_addr()::text, 'local') || ':' "
        "|| current_setting('port') || '/' || (SELECT oid FROM pg_database WHERE datname = current_database())"))


def fresh_plan(apps: tuple[str, ...]) -> tuple[Statement, ...] | None:
    """The recorded plan for `apps` in this process (the newest database's; for tests and diagnostics)."""
    plans = [plan for (key_apps, _), plan in _FRESH_PLANS.items() if key_apps == apps]
    return plans[-1] if plans else None


async def _replay(connection: Any, plan: tuple[Statement, ...]) -> None:
    """Run recorded statements in order; consecutive ones without arguments go as one script (one round trip)."""
    script: list[str] = []
    for query, args in plan:
        if not args:
            script.append(query.strip().rstrip(";"))
            continue
        if script:
            await connection.execute(";\n".join(script))
            script = []
        await connection.execute(query, *args)
    if script:
        await connection.execute(";\n".join(script))


async def _apply(manager: MigrationManager) -> None:
    """MigrationManager.run() without its printing and its own transaction (we are inside ours)."""
    for raw in manager.raw:
        if inspect.iscoroutinefunction(raw):
            await raw()
        else:
            raw()
    await manager._run_add_tables(backwards=False)
    await manager._run_change_table_schema(backwards=False)
    await manager._run_rename_tables(backwards=False)
    await manager._run_add_columns(backwards=False)
    await manager._run_drop_columns(backwards=False)
    await manager._run_drop_tables(backwards=False)
    await manager._run_rename_columns(backwards=False)
    await manager._run_alter_columns(backwards=False)
    await manager._run_add_constraints(backwards=False)
    await manager._run_drop_constraints(backwards=False)


async def _migration_table_exists() -> bool:
    """Piccolo's table_exists() looks in every schema (see STACK_NOTES); this looks only at the current one."""
    rows = await Migration.raw("SELECT to_regclass('migration') IS NOT NULL AS present")
    return bool(rows[0]["present"])
