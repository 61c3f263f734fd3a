"""Generating tenants/baseline.sql (`make baseline`, `switchboard baseline`): two reference schemas migrated the usual
way, dumped by pg_dump, their seed rows read back (columns listed in tenants.baseline.VOLATILE recomputed per schema).

Apart from tenants.baseline because it drives tenants.services and tenants.migrations, which import the baseline to
apply it."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from typing import Any

from app.lib.db import TenantRef, quote_schema
from app.lib.engine import DB
from tenants import baseline, migrations, services


def _strip_dump(dump: str, schema: str) -> str:
    """pg_dump's text without its session settings, comments and the schema's own name."""
    keep: list[str] = []
    for line in dump.splitlines():
        if line.startswith(("--", "SET ", "\\")) or "pg_catalog.set_config('search_path'" in line:
            continue
        if line.startswith("CREATE SCHEMA "):
            continue
        keep.append(line)
    text = "\n".join(keep).replace(f"{schema}.", "").replace(f"{quote_schema(schema)}.", "")
    if schema in text:
        raise RuntimeError(f"the dump still names the reference schema {schema} after stripping it")
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


async def _seed_sql(connection: Any, first: str, second: str) -> str:
    """INSERTs for the rows the migrations seeded, with the VOLATILE columns recomputed, then every sequence's value."""
    a, b = await _table_rows_full(connection, first), await _table_rows_full(connection, second)
    parts: list[str] = []
    for table, rows in a.items():
        other = b.get(table, [])
        if len(other) != len(rows):
            raise RuntimeError(f"table {table}: the two reference schemas hold {len(rows)} and {len(other)} rows")
        columns = list(rows[0])
        for row_a, row_b in zip(rows, other, strict=True):
            for column in columns:
                if row_a.get(column) != row_b.get(column) and (table, column) not in baseline.VOLATILE:
                    raise RuntimeError(
                        f"{table}.{column} differs between two schemas migrated the same way ({row_a.get(column)!r} "
                        f"vs {row_b.get(column)!r}): add the SQL that makes it to tenants.baseline.VOLATILE")
        fixed = [c for c in columns if (table, c) not in baseline.VOLATILE]
        made = [c for c in columns if (table, c) in baseline.VOLATILE]
        payload = json.dumps([{c: r[c] for c in fixed} for r in rows], ensure_ascii=False, sort_keys=True)
        tag = "$seed$"
        if tag in payload:
            raise RuntimeError(f"table {table}: seed rows contain {tag}")
        select = ", ".join([baseline._ident(c) for c in fixed] + [baseline.VOLATILE[(table, c)] for c in made])
        parts.append(
            f"INSERT INTO {baseline._ident(table)} ({', '.join(baseline._ident(c) for c in fixed + made)})\n"
            f"SELECT {select} FROM jsonb_populate_recordset(NULL::{baseline._ident(table)}, {tag}{payload}{tag});")
    sequences = await connection.fetch(
        "SELECT sequencename, last_value, (last_value IS NOT NULL) AS called, start_value FROM pg_sequences "
        "WHERE schemaname = $1 AND sequencename <> 'migration_id_seq' ORDER BY 1", first)
    for s in sequences:
        if s["called"]:
            parts.append(f"SELECT setval('{baseline._ident(s['sequencename'])}', {int(s['last_value'])}, true);")
    return "\n".join(parts) + "\n"


async def _table_rows_full(connection: Any, schema: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for table in await baseline._tables(connection, schema):
        pk = await connection.fetchval(
            "SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY array_position(x.indkey, a.attnum)) "
            "FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY(x.indkey) "
            "WHERE x.indrelid = $1::regclass AND x.indisprimary", f"{quote_schema(schema)}.{baseline._ident(table)}")
        order = pk or "to_jsonb(t)::text"
        rows = await connection.fetch(
            f"SELECT to_jsonb(t) AS r FROM {quote_schema(schema)}.{baseline._ident(table)} AS t ORDER BY {order}")  # noqa: S608
        if rows:
            out[table] = [json.loads(r["r"]) for r in rows]
    return out


def _dsn_for_pg_dump(dsn: str) -> str:
    return dsn.replace("postgresql+asyncpg://", "postgresql://")


async def generate() -> str:
    """Build the reference schemas in the app's database (committed: pg_dump reads them from its own session),
    render the script, drop them."""
    apps = migrations.tenant_apps()
    async with DB.pool.acquire() as conn:
        taken = await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = ANY($1::text[])",
                                    list(baseline.REFERENCE_SCHEMAS))
        if taken:
            raise RuntimeError(f"a schema named like {baseline.REFERENCE_SCHEMAS} exists already; drop it first")
        extensions = await baseline.database_extensions(conn)
    try:
        for schema in baseline.REFERENCE_SCHEMAS:
            async with DB.pool.acquire() as conn:
                await conn.execute(f"CREATE SCHEMA {quote_schema(schema)}")
            await services.migrate_tenant(TenantRef(id=0, slug=schema.removeprefix("t_"), schema=schema),
                                          use_baseline=False)
            await asyncio.sleep(0.01)  # now() differs between the two references
        first, second = baseline.REFERENCE_SCHEMAS
        proc = await asyncio.to_thread(
            subprocess.run,
            ["pg_dump", "--schema-only", "--no-owner", "--no-privileges", "--no-comments", "-n", first,
             "-T", f"{first}.migration", "-T", f"{first}.migration_id_seq",
             "-d", _dsn_for_pg_dump(str(DB.config["dsn"]))],
            capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"pg_dump failed: {proc.stderr.strip()}")
        ddl = _strip_dump(proc.stdout, first)
        async with DB.pool.acquire() as conn:
            seeds = await _seed_sql(conn, first, second)
    finally:
        async with DB.pool.acquire() as conn:
            for schema in baseline.REFERENCE_SCHEMAS:
                await conn.execute(f"DROP SCHEMA IF EXISTS {quote_schema(schema)} CASCADE")
    head = [f"-- migration: {app} {mid}" for app in apps for mid, _ in migrations.migration_modules(app)]
    return "\n".join([
        f"{baseline.HEADER}: a tenant schema at head in one script (tenants/baseline.py). Generated by "
        "`make baseline`; do not edit.",
        f"-- extensions: {' '.join(sorted(extensions))}",
        *head,
        "",
        ddl,
        seeds,
    ])
