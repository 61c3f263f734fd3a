"""The baseline for the tenant-scoped HTTP figures: a bare Litestar app running the same SQL as the real handlers of
`GET /t/{slug}/api/v1/me` and `GET /t/{slug}/api/v1/contacts/{id}` on the same kind of pool (one asyncpg pool on
DATABASE_URL, DB_POOL_MIN/DB_POOL_MAX as the app reads them), under uvicorn with the same flags (bench_http).

Per request, as a plain asyncpg app would: BEGIN, the tenant by slug in `public`, `SET LOCAL search_path`, the API
key ⨝ user ⨝ workspace row, for a contact its card row (with its phones and emails), COMMIT, and asyncpg's reset
query when the pool takes the connection back: 6 round trips for /me, 7 for a card. The app, with the tenant in its
5 s cache, sends the same statements in 3 and 4 (`BEGIN; SET LOCAL` in one, no reset after a committed unit of
work); BARE_LEAN=1 makes the bare app do the same, which leaves only the app's Python between the two.
The answer is encoded by Litestar (msgspec) from plain dicts.
No middleware, no logging, no DTOs, nothing from `app`: `uvicorn tests.bench.bare_app:create_app --factory`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec
from litestar import Litestar, Request, get
from litestar.exceptions import NotFoundException

SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{2,40}$")
SCHEMA_RE = re.compile(r"^t_[a-z][a-z0-9_]{2,40}$")
TENANT_SQL = "SELECT id, slug, schema_name, name FROM public.tenant WHERE slug = $1 AND status = 'active'"
KEY_SQL = ("SELECT k.id, k.last_used_at, u.id AS user_id, u.email, u.name, u.role, "
           "COALESCE(NULLIF(u.language, ''), w.language, '') AS language, "
           "COALESCE(NULLIF(u.timezone, ''), w.timezone, '') AS timezone "
           "FROM api_key k JOIN app_user u ON u.id = k.user LEFT JOIN workspace w ON true "
           "WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.status = 'active'")
CARD_SQL = (
    'SELECT c."id" AS "id", c."name" AS "name", c."company" AS "company", c."tags" AS "tags", '
    'c."temperature" AS "temperature", c."temperature_manual" AS "temperature_manual", '
    'c."owner" AS "owner_id", o."name" AS "owner_name", '
    'c."language" AS "language", c."birth_date" AS "birth_date", c."address" AS "address", '
    'c."preferences" AS "preferences", c."custom" AS "custom", c."last_contact_at" AS "last_contact_at", '
    'c."created_at" AS "created_at", c."updated_at" AS "updated_at", c."version" AS "version", '
    'c."timezone" AS "timezone", c.merged_into AS _merged_into, c.deleted_at AS _deleted_at, '
    'ARRAY(SELECT p.e164 FROM contact_phone p WHERE p.contact = c.id ORDER BY p.position) AS phones, '
    'ARRAY(SELECT e.email FROM contact_email e WHERE e.contact = c.id ORDER BY e.position) AS emails FROM contact c LEFT JOIN app_user o ON o.id = c.owner WHERE c.id = $1'
)

LEAN = os.environ.get("BARE_LEAN") == "1"
"""BARE_LEAN=1: the same statements in the same round trips as the app (slug -> schema remembered 5 s in-process,
`BEGIN; SET LOCAL ...` as one query, no reset query on release): what is left between the two is the app's Python."""
_pool: asyncpg.Pool | None = None
_schemas: dict[str, tuple[float, str]] = {}


def _token_hash(token: str) -> str:
    """Same as app.lib.security.token_hash (SHA-256 hex), written out: the bare app imports nothing from app."""
    return hashlib.sha256(token.encode()).hexdigest()


async def _no_reset(_: asyncpg.Connection) -> None:
    """Lean: asyncpg has rolled back anything left open; every use here is one transaction, nothing outlives it."""


@contextlib.asynccontextmanager
async def _lifespan(_: Litestar) -> AsyncIterator[None]:
    global _pool
    _pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=int(os.environ.get("DB_POOL_MIN", "2")),
                                      max_size=int(os.environ.get("DB_POOL_MAX", "20")),
                                      reset=_no_reset if LEAN else None)
    try:
        yield
    finally:
        await _pool.close()


async def _schema_of(conn: asyncpg.Connection, slug: str) -> str:
    if not SLUG_RE.match(slug):
        raise NotFoundException()
    if LEAN and (hit := _schemas.get(slug)) and hit[0] > time.monotonic():
        return hit[1]
    tenant = await conn.fetchrow(TENANT_SQL, slug)
    if tenant is None or not SCHEMA_RE.match(tenant["schema_name"]):
        raise NotFoundException()
    if LEAN:
        _schemas[slug] = (time.monotonic() + 5.0, tenant["schema_name"])
    return str(tenant["schema_name"])


@contextlib.asynccontextmanager
async def _scoped(request: Request[Any, Any, Any], slug: str) -> AsyncIterator[tuple[asyncpg.Connection, Any]]:
    """One transaction in the tenant's schema with the key checked (the caller's principal); 404 like the app."""
    assert _pool is not None
    async with _pool.acquire() as conn:
        if LEAN:
            schema = await _schema_of(conn, slug)
            await conn.execute(f'BEGIN; SET LOCAL search_path TO "{schema}"')
            try:
                yield conn, await _principal(request, conn)
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")
        else:
            async with conn.transaction():
                schema = await _schema_of(conn, slug)
                await conn.execute(f'SET LOCAL search_path TO "{schema}"')
                yield conn, await _principal(request, conn)


async def _principal(request: Request[Any, Any, Any], conn: asyncpg.Connection) -> asyncpg.Record:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise NotFoundException()
    row = await conn.fetchrow(KEY_SQL, _token_hash(key.strip()))
    if row is None:
        raise NotFoundException()
    return row


@get("/t/{slug:str}/api/v1/me")
async def me(request: Request[Any, Any, Any], slug: str) -> dict[str, Any]:
    async with _scoped(request, slug) as (_, p):
        pass
    return {"id": p["user_id"], "email": p["email"], "name": p["name"], "role": p["role"], "auth": "api_key",
            "tenant": slug, "language": p["language"] or "en", "timezone": p["timezone"] or "UTC"}


@get("/t/{slug:str}/api/v1/contacts/{contact_id:int}")
async def contact(request: Request[Any, Any, Any], slug: str, contact_id: int) -> dict[str, Any]:
    async with _scoped(request, slug) as (conn, _):
        row = await conn.fetchrow(CARD_SQL, contact_id)
    if row is None or row["_deleted_at"] is not None:
        raise NotFoundException()
    out = dict(row)
    del out["_merged_into"], out["_deleted_at"]
    out["custom"] = msgspec.json.decode(out["custom"]) if out["custom"] else {}
    return out


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app() -> Litestar:
    return Litestar(route_handlers=[me, contact, health], lifespan=[_lifespan], debug=False)
