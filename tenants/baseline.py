"""The tenant baseline: ONE script that creates a tenant schema in its final state, instead of replaying migrations.

A new (empty) tenant schema, at signup or under `switchboard migrate`, runs `tenants/baseline.sql` in one round trip
and records every migration the baseline covers as applied; migrations newer than the baseline then run as usual.
The script is generated (`make baseline`, i.e. `switchboard baseline`) from two reference schemas
migrated the slow way in the configured database:

- the DDL is `pg_dump --schema-only` of the first one (tables, sequences, indexes, constraints, functions, triggers),
  schema name stripped, so `search_path` decides where it lands;
- the seed rows the migrations insert are read from the first one; a column whose value differs between the two
  references (a random salt, a `now()`) is not copied but recomputed by the expression in VOLATILE, so each schema
  gets its own; a volatile column missing there stops the generation with a message;
- the script's header lists the migrations it covers and the extensions the database had (migrations may look at
  them: the trigram indexes exist only with pg_trgm). A database with other extensions replays the migrations.

`describe()` renders a schema's catalog and data as comparable text; tests/integration/test_baseline.py proves that
a schema made from the baseline describes exactly like one made by replaying the migrations, so the two cannot drift.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from pathlib import Path
from typing import Any

from app.lib.db import quote_schema

BASELINE_PATH = Path(__file__).with_name("baseline.sql")
REFERENCE_SCHEMAS = ("t_sb_baseline_ref_a", "t_sb_baseline_ref_b")
"""Built, dumped and dropped by `generate()`, which refuses to run when one exists; their slugs are reserved
(tenants.services.RESERVED_SLUGS), so no shop owns them."""

VOLATILE: dict[tuple[str, str], str] = {
    ("consent_salt", "salt"): "encode(sha256((gen_random_uuid()::text || gen_random_uuid()::text)::bytea), 'hex')",
    ("listener_cursor", "updated_at"): "now()",
    ("temperature_rules", "updated_at"): "now()",
}
"""Seed columns whose value is made when the schema is made (table, column) -> the SQL that makes it (the same as
the migration's). Each tenant schema gets its own value: a consent salt shared by two shops would let one shop's
hashes be matched against another's."""

PROBED_EXTENSIONS = frozenset({"pg_trgm"})
"""Extensions a tenant migration looks for and acts differently without (contacts: the trigram indexes). A database
may have others (pg_stat_statements...) and still use the baseline; it must have the baseline's, and of these,
exactly the baseline's. Add one here when a migration starts asking for it."""

HEADER = "-- Switchboard tenant baseline"
_MIGRATION_LINE = re.compile(r"^-- migration: (\S+) (\S+)$")
_EXTENSIONS_LINE = re.compile(r"^-- extensions: (.*)$")


@dataclasses.dataclass(frozen=True)
class Baseline:
    migrations: frozenset[tuple[str, str]]
    """(app, migration id) pairs the script brings a schema to."""
    extensions: frozenset[str]
    """The extensions installed in the database it was generated in."""
    script: str


def parse(text: str) -> Baseline | None:
    if not text.startswith(HEADER):
        return None
    migrations: set[tuple[str, str]] = set()
    extensions: frozenset[str] | None = None
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        if m := _MIGRATION_LINE.match(line):
            migrations.add((m.group(1), m.group(2)))
        elif m := _EXTENSIONS_LINE.match(line):
            extensions = frozenset(m.group(1).split())
    if extensions is None or not migrations:
        return None
    return Baseline(frozenset(migrations), extensions, text)


@functools.cache
def load() -> Baseline | None:
    """The committed baseline (read once per process), or None when there is none."""
    try:
        return parse(BASELINE_PATH.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


async def database_extensions(connection: Any) -> frozenset[str]:
    return frozenset(r["extname"] for r in await connection.fetch("SELECT extname FROM pg_extension"))


def fits(snapshot: Baseline, extensions: frozenset[str]) -> bool:
    """Whether a database with `extensions` would get from the migrations what the baseline makes."""
    return snapshot.extensions <= extensions and (extensions & PROBED_EXTENSIONS) == (
        snapshot.extensions & PROBED_EXTENSIONS)


# ----------------------------------------------------------------------------------------------------------------
# Describing a schema (what the equivalence test compares)


_CATALOG_QUERIES: dict[str, str] = {
    "columns": """
        SELECT c.relname AS tbl, a.attname AS col, format_type(a.atttypid, a.atttypmod) AS type,
               a.attnotnull AS notnull,
               pg_get_expr(d.adbin, d.adrelid) AS dflt, a.attidentity AS ident, a.attgenerated AS gen,
               row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum) AS position
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = $1::regnamespace AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'v', 'p')
        ORDER BY 1, position""",
    "relations": """
        SELECT relname, relkind, relpersistence, reloptions::text AS options FROM pg_class
        WHERE relnamespace = $1::regnamespace ORDER BY 1""",
    "indexes": """
        SELECT c.relname AS tbl, i.relname AS idx, pg_get_indexdef(i.oid) AS def
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
        WHERE c.relnamespace = $1::regnamespace ORDER BY 1, 2""",
    "constraints": """
        SELECT c.relname AS tbl, k.conname, k.contype, pg_get_constraintdef(k.oid) AS def, k.condeferrable,
               k.condeferred
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        WHERE k.connamespace = $1::regnamespace ORDER BY 1, 2""",
    "triggers": """
        SELECT c.relname AS tbl, t.tgname, pg_get_triggerdef(t.oid) AS def, t.tgenabled
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = $1::regnamespace AND NOT t.tgisinternal ORDER BY 1, 2""",
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args, pg_get_functiondef(p.oid) AS def
        FROM pg_proc p WHERE p.pronamespace = $1::regnamespace ORDER BY 1, 2""",
    "sequences": """
        SELECT sequencename, data_type::text, start_value, increment_by, max_value, min_value, cycle, last_value
        FROM pg_sequences WHERE schemaname = $2 ORDER BY 1""",
    "views": "SELECT viewname, definition FROM pg_views WHERE schemaname = $2 ORDER BY 1",
    "types": """
        SELECT t.typname, t.typtype FROM pg_type t
        WHERE t.typnamespace = $1::regnamespace AND t.typtype NOT IN ('c', 'b') ORDER BY 1""",
}


async def describe(connection: Any, schema: str, *, with_data: bool = True) -> dict[str, Any]:
    """The schema's catalog (columns in order, indexes, constraints, triggers, functions, sequences, views) and the
    rows of every table but `migration`, volatile columns left out, as plain data with the schema's own name
    replaced by `<schema>`: two schemas built the same way describe equal."""
    quoted = quote_schema(schema)
    out: dict[str, Any] = {}
    for name, sql in _CATALOG_QUERIES.items():
        args: list[Any] = [quoted] if "$2" not in sql else [quoted, schema]
        if "$1" not in sql:
            args = [schema]
            sql = sql.replace("$2", "$1")
        rows = await connection.fetch(sql, *args)
        text = json.dumps([dict(r) for r in rows], default=str, sort_keys=True)
        out[name] = json.loads(text.replace(f"{quoted}.", "<schema>.").replace(f"{schema}.", "<schema>."))
    out["migrations"] = sorted(tuple(r) for r in await connection.fetch(
        f"SELECT app_name, name FROM {quoted}.migration"))  # noqa: S608 - checked name
    if with_data:
        out["data"] = await _table_rows(connection, schema)
    return out


class _Rollback(Exception):
    pass


async def reread(connection: Any, schema: str, described: dict[str, Any]) -> dict[str, Any]:
    """`described` with every index and CHECK definition as PostgreSQL reads it back: each one is created again on
    `schema`'s tables under a scratch name (in a transaction rolled back) and printed. pg_dump's text is re-parsed
    into a different but equal tree for some expressions (`varchar IN (...)` prints as `ANY (ARRAY[...]::text[])`
    and reads back as `ANY (ARRAY[...::text])`); re-reading both sides compares what each definition means."""
    quoted = quote_schema(schema)
    out = dict(described)
    indexes: list[dict[str, Any]] = []
    constraints: list[dict[str, Any]] = []
    try:
        async with connection.transaction():
            for item in described["indexes"]:
                name = f"sb_reread_{len(indexes)}"
                sql = item["def"].replace("<schema>.", f"{quoted}.").replace(
                    f"INDEX {item['idx']} ON", f"INDEX {name} ON", 1)
                await connection.execute(sql)
                text = await connection.fetchval("SELECT pg_get_indexdef($1::regclass)", f"{quoted}.{name}")
                indexes.append({**item, "def": text.replace(f"{quoted}.", "<schema>.").replace(
                    f"{schema}.", "<schema>.").replace(f"INDEX {name} ON", f"INDEX {item['idx']} ON", 1)})
            for item in described["constraints"]:
                if item["contype"] not in ("c", "b'c'"):
                    constraints.append(item)
                    continue
                name = f"sb_reread_{len(constraints)}"
                await connection.execute(f"ALTER TABLE {quoted}.{_ident(item['tbl'])} ADD CONSTRAINT {name} "
                                         + item["def"].replace("<schema>.", f"{quoted}."))
                text = await connection.fetchval(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1 "
                    "AND conrelid = $2::regclass", name, f"{quoted}.{_ident(item['tbl'])}")
                constraints.append({**item, "def": text.replace(f"{quoted}.", "<schema>.").replace(
                    f"{schema}.", "<schema>.")})
            raise _Rollback
    except _Rollback:
        pass
    out["indexes"], out["constraints"] = indexes, constraints
    return out


async def _tables(connection: Any, schema: str) -> list[str]:
    """The schema's tables but `migration`, parents before the tables whose foreign keys point at them."""
    rows = await connection.fetch(
        "SELECT relname FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind IN ('r', 'p') "
        "AND relname <> 'migration' ORDER BY 1", quote_schema(schema))
    edges = await connection.fetch(
        "SELECT c.relname AS child, p.relname AS parent FROM pg_constraint k "
        "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid "
        "WHERE k.contype = 'f' AND k.connamespace = $1::regnamespace AND c.oid <> p.oid", quote_schema(schema))
    names = [r["relname"] for r in rows]
    parents: dict[str, set[str]] = {n: set() for n in names}
    for e in edges:
        if e["child"] in parents and e["parent"] in parents:
            parents[e["child"]].add(e["parent"])
    ordered: list[str] = []
    while parents:
        ready = sorted(n for n, ps in parents.items() if not ps - set(ordered))
        if not ready:  # a cycle: keep the rest alphabetical (seed rows with circular references are not expected)
            ready = sorted(parents)
        for n in ready:
            ordered.append(n)
            del parents[n]
    return ordered


async def _table_rows(connection: Any, schema: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for table in await _tables(connection, schema):
        rows = await connection.fetch(
            f"SELECT to_jsonb(t) AS r FROM {quote_schema(schema)}.{_ident(table)} AS t ORDER BY to_jsonb(t)::text")  # noqa: S608
        if rows:
            out[table] = [{k: v for k, v in json.loads(r["r"]).items() if (table, k) not in VOLATILE} for r in rows]
    return out


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def stale(text: str) -> bool:
    """Whether the committed script differs from `text` (a freshly generated one)."""
    current = BASELINE_PATH.read_text(encoding="utf-8") if BASELINE_PATH.exists() else ""
    return current != text
