"""What the security sweeps share: the app's route table, paths with their parameters filled, sessions with their
CSRF cookie, and a snapshot of everything a request could have written (every table's rows, the job queue)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from litestar.routes import HTTPRoute

from app.accounts.services import create_session
from app.accounts.tables import User
from app.lib.db import raw_connect, tenant_context
from app.lib.security import sign
from tests.conftest import TEST_DSN, ShopFixture

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_COOKIE_VALUE = "sweep-browser-secret-0123456789"


def unsafe_handlers(app: Any) -> Iterator[tuple[str, str, Any]]:
    """(method, route path, handler) for every POST/PUT/PATCH/DELETE handler of the app, from its route table."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in sorted(set(handler.http_methods) & UNSAFE):
                yield method, route.path, handler


def fill(path: str, slug: str) -> str:
    """A concrete URL for a route path: the shop's slug, id 1 for ints (guards and the CSRF check run before any
    handler looks the id up), `x` for strings and paths."""
    path = path.replace("{slug:str}", slug)
    return re.sub(r"\{\w+:int\}", "1", re.sub(r"\{\w+:(str|path|uuid)\}", "x", path))


def needed_rank(handler: Any) -> int:
    """The highest role rank the handler's `requires(...)` guards ask for (0 when none does)."""
    from app.accounts.services import RANK

    names = [getattr(getattr(g, "func", g), "__name__", "") for g in handler.resolve_guards()]
    return max((RANK[n.removeprefix("requires_")] for n in names if n.startswith("requires_")), default=0)


async def session_of(shop: ShopFixture, role: str) -> str:
    """A signed-in session token of a user with `role` in `shop` (the owner's own for "owner")."""
    async with tenant_context(shop.tenant):
        if role == "owner":
            user_id = shop.user_id
        else:
            rows = await User.insert(User(email=f"{role}@{shop.slug}.example", name=role.title(), role=role)).returning(
                User.id)
            user_id = rows[0]["id"]
        token, _ = await create_session(user_id)
    return token


def browser_cookies(session: str) -> str:
    return f"sb_session={session}; sb_csrf={CSRF_COOKIE_VALUE}"


def csrf_token(session: str) -> str:
    """The token a page would embed for this browser and session (app.lib.csrf.token_for)."""
    return sign(f"{CSRF_COOKIE_VALUE}|{session}", "csrf")


async def snapshot(shop: ShopFixture) -> dict[str, int]:
    """Rows of every table in the shop's schema and in `public` (the job queue, sessions, audit and registry
    included)."""
    conn = await raw_connect(TEST_DSN)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "AND table_schema IN ($1, 'public') ORDER BY 1, 2", shop.tenant.schema)
        counts: dict[str, int] = {}
        for t in tables:
            name = f'"{t["table_schema"]}"."{t["table_name"]}"'
            counts[name] = int(await conn.fetchval(f"SELECT count(*) FROM {name}"))
        return counts
    finally:
        await conn.close()


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {k: (before.get(k, 0), after.get(k, 0)) for k in before.keys() | after.keys()
            if before.get(k, 0) != after.get(k, 0)}
