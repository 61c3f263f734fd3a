"""Tenant isolation: keys, sessions and ids of one shop never reach another shop's data."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg
import pytest

from app.accounts.tables import User
from app.lib.db import NO_TENANT_SEARCH_PATH, NoTenantError, current_tenant, tenant_context
from app.piccolo_conf import DB
from tests.conftest import ShopFixture, browser_login

TENANT_ROUTES = [
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/users"),
    ("GET", "/api/v1/users/1"),
    ("PATCH", "/api/v1/users/1"),
    ("GET", "/api/v1/invitations"),
    ("POST", "/api/v1/invitations"),
    ("DELETE", "/api/v1/invitations/1"),
    ("GET", "/api/v1/api-keys"),
    ("POST", "/api/v1/api-keys"),
    ("DELETE", "/api/v1/api-keys/1"),
    ("GET", "/api/v1/workspace"),
    ("PUT", "/api/v1/workspace"),
    ("GET", "/api/v1/audit"),
]
BODIES = {"PATCH": {"role": "admin"}, "POST": {"email": "x@y.example", "name": "k"}, "PUT": {"display_name": "Hacked"}}


@pytest.mark.parametrize(("method", "path"), TENANT_ROUTES)
async def test_other_tenants_key_gets_the_unknown_tenant_404(
    fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture, method: str, path: str
) -> None:
    body = BODIES.get(method)
    foreign = await fx_client.request(method, f"/t/{fx_shop.slug}{path}", headers=fx_other_shop.auth,
                                      json={**body, "role": "operator"} if body else None)
    unknown = await fx_client.request(method, f"/t/no_such_shop{path}", headers=fx_other_shop.auth, json=body)
    suspended_like = await fx_client.request(method, f"/t/{fx_shop.slug}{path}",
                                             headers={"Authorization": "Bearer sbk_forged"}, json=body)
    assert foreign.status_code == unknown.status_code == suspended_like.status_code == 404
    assert foreign.json() == unknown.json() == suspended_like.json()


async def test_every_tenant_route_refuses_another_tenants_key_like_an_unknown_tenant(
    fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    """Every HTTP route under /t/{slug}/ (JSON API, pages, webhooks, widget, portal), with shop B's key on shop A's
    URL, answers exactly what an unknown shop answers: B learns nothing about A, whatever the feature. The list is
    the app's own route table, so a new feature is covered the day it is added."""
    import re

    from litestar.routes import HTTPRoute

    checked = 0
    for route in fx_client._transport.app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/t/{slug"):
            continue
        path = re.sub(r"\{(\w+):int\}", "1", re.sub(r"\{(\w+):(str|path)\}", "x", route.path.replace(
            "{slug:str}", "SLUG")))
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            body = {} if method in ("POST", "PUT", "PATCH") else None
            foreign = await fx_client.request(method, path.replace("SLUG", fx_shop.slug), headers=fx_other_shop.auth,
                                              json=body)
            unknown = await fx_client.request(method, path.replace("SLUG", "no_such_shop"), headers=fx_other_shop.auth,
                                              json=body)
            assert foreign.status_code == unknown.status_code == 404, (method, route.path, foreign.status_code)
            assert foreign.json() == unknown.json(), (method, route.path)
            checked += 1
    assert checked > 150


async def test_without_credentials_only_public_routes_answer(fx_client: Any, fx_shop: ShopFixture) -> None:
    """Anonymous requests to every route under /t/{slug}/ are refused, except the sign-in page and the public
    web chat entry points (the widget script, its greeting, its shipped strings, opening a chat)."""
    import re

    from litestar.routes import HTTPRoute

    public = {("GET", "/t/{slug:str}/login"), ("GET", "/t/{slug:str}/widget.js"), ("GET", "/t/{slug:str}/chat/config"),
              ("GET", "/t/{slug:str}/chat/strings"), ("POST", "/t/{slug:str}/chat/sessions")}
    answered = set()
    for route in fx_client._transport.app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/t/{slug"):
            continue
        path = re.sub(r"\{\w+:int\}", "1", re.sub(r"\{\w+:(str|path)\}", "x", route.path.replace(
            "{slug:str}", fx_shop.slug)))
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            resp = await fx_client.request(method, path, json={} if method in ("POST", "PUT", "PATCH") else None)
            assert resp.status_code < 500, (method, route.path)
            if resp.status_code < 300:
                answered.add((method, route.path))
    assert answered == public


async def test_an_operator_reads_nothing_reserved_for_higher_roles(fx_client: Any, fx_shop: ShopFixture) -> None:
    """Every GET route under /t/{slug}/ that a guard reserves for supervisors or admins refuses an operator's
    session with 403, and no route open to operators refuses them (guards read from the route table)."""
    import re

    from litestar.routes import HTTPRoute

    from app.accounts.services import RANK, create_session
    from realtime.runtime import ensure_started

    await ensure_started()
    async with tenant_context(fx_shop.tenant):
        rows = await User.insert(User(email=f"op@{fx_shop.slug}.example", name="Op", role="operator")).returning(
            User.id)
        token, _ = await create_session(rows[0]["id"])
    cookie = {"cookie": f"sb_session={token}", "accept": "application/json"}
    reserved = allowed = 0
    for route in fx_client._transport.app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/t/{slug"):
            continue
        path = re.sub(r"\{\w+:int\}", "1", re.sub(r"\{\w+:(str|path)\}", "x", route.path.replace(
            "{slug:str}", fx_shop.slug)))
        for handler in route.route_handlers:
            if "GET" not in handler.http_methods:
                continue
            names = [getattr(getattr(g, "func", g), "__name__", "") for g in handler.resolve_guards()]
            needed = max((RANK[n.removeprefix("requires_")] for n in names if n.startswith("requires_")), default=0)
            resp = await fx_client.get(path, headers=cookie)
            if needed > RANK["operator"]:
                reserved += 1
                assert resp.status_code == 403, (route.path, resp.status_code)
            else:
                allowed += 1
                assert resp.status_code != 403, (route.path, resp.text[:200])
    assert reserved > 20 and allowed > 40


async def test_suspended_tenant_answers_like_an_unknown_one(fx_client: Any, fx_db: str) -> None:
    from tenants import services
    from tests.conftest import make_shop

    shop = await make_shop("susp")
    assert (await fx_client.get(f"/t/{shop.slug}/api/v1/me", headers=shop.auth)).status_code == 200
    await services.set_status(shop.slug, "suspended")
    suspended = await fx_client.get(f"/t/{shop.slug}/api/v1/me", headers=shop.auth)
    unknown = await fx_client.get("/t/never_existed/api/v1/me", headers=shop.auth)
    assert suspended.status_code == unknown.status_code == 404 and suspended.json() == unknown.json()
    await services.set_status(shop.slug, "active")
    assert (await fx_client.get(f"/t/{shop.slug}/api/v1/me", headers=shop.auth)).status_code == 200


async def test_same_ids_in_two_shops_return_only_own_rows(
    fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    """Ids are per schema: B asking for A's user id 1 gets B's own user 1, never A's."""
    a = await fx_client.get(f"/t/{fx_shop.slug}/api/v1/users/{fx_shop.user_id}", headers=fx_shop.auth)
    b = await fx_client.get(f"/t/{fx_other_shop.slug}/api/v1/users/{fx_shop.user_id}", headers=fx_other_shop.auth)
    assert a.json()["email"] == fx_shop.email
    assert b.status_code in (200, 404)
    assert fx_shop.email not in b.text
    users_b = await fx_client.get(f"/t/{fx_other_shop.slug}/api/v1/users", headers=fx_other_shop.auth)
    assert fx_shop.email not in users_b.text and fx_other_shop.email in users_b.text


async def test_session_cookie_of_one_shop_is_anonymous_in_another(
    fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    resp = await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    assert resp.status_code == 303
    token = fx_client.cookies.get("sb_session", path=f"/t/{fx_shop.slug}")
    assert token
    # Replay A's session token against B's URL on purpose (a browser would not even send it: cookie path).
    resp = await fx_client.get(f"/t/{fx_other_shop.slug}/api/v1/me", headers={"cookie": f"sb_session={token}"})
    assert resp.status_code == 401
    assert fx_shop.email not in resp.text


async def test_tenant_query_without_a_tenant_fails_loudly(fx_db: str) -> None:
    with pytest.raises(asyncpg.UndefinedTableError):
        await User.select()
    with pytest.raises(NoTenantError):
        current_tenant()


async def test_cancelled_queries_never_leak_a_search_path(fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    """Hundreds of concurrent units of work over two tenants on a small pool, a third of them cancelled
    mid-query: every completed read sees only its own tenant, and every pooled connection comes back with no
    tenant schema selected (the CVE-2023-28859 class of bug)."""
    shops = [fx_shop, fx_other_shop]
    wrong: list[str] = []
    done = 0

    async def read(shop: ShopFixture) -> None:
        nonlocal done
        async with tenant_context(shop.tenant) as uow:
            row = await uow.connection.fetchrow(
                "SELECT current_schema() AS schema, (SELECT email FROM app_user ORDER BY id LIMIT 1) AS email, "
                "pg_sleep($1) AS _", random.uniform(0, 0.02))
            emails = await User.select(User.email).where(User.role == "owner")
        if row["schema"] != shop.tenant.schema or row["email"] != shop.email or emails[0]["email"] != shop.email:
            wrong.append(f"{shop.slug} saw {row['schema']}/{row['email']}")
        done += 1

    async def maybe_cancel(shop: ShopFixture, cancel: bool) -> None:
        task = asyncio.create_task(read(shop))
        if cancel:
            await asyncio.sleep(random.uniform(0, 0.015))
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    await asyncio.gather(*(maybe_cancel(random.choice(shops), random.random() < 0.35) for _ in range(400)))
    assert not wrong, wrong[:5]
    assert done > 100
    # Every connection the pool hands out now is back to "no tenant".
    conns = [await DB.pool.acquire() for _ in range(DB.pool.get_max_size())]
    try:
        paths = {await c.fetchval("SHOW search_path") for c in conns}
        in_tx = [c.is_in_transaction() for c in conns]
    finally:
        for c in conns:
            await DB.pool.release(c)
    assert paths == {NO_TENANT_SEARCH_PATH}
    assert not any(in_tx)


async def test_cancelled_http_requests_never_cross_tenants(
    fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    """Half the requests are cancelled after 1 to 40 turns of the event loop (before, during or after their
    transaction), the other half run to the end; every finished one must show only its own shop."""
    shops = [fx_shop, fx_other_shop]
    leaks: list[str] = []
    finished = 0

    async def call(shop: ShopFixture) -> None:
        nonlocal finished
        resp = await fx_client.get(f"/t/{shop.slug}/api/v1/users", headers=shop.auth)
        finished += 1
        other = fx_other_shop if shop is fx_shop else fx_shop
        if resp.status_code != 200 or other.email in resp.text or shop.email not in resp.text:
            leaks.append(f"{shop.slug}: {resp.status_code} {resp.text[:120]}")

    async def call_then_cancel(shop: ShopFixture, turns: int) -> bool:
        task = asyncio.create_task(call(shop))
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return True
        return False

    plan = [(shops[i % 2], 1 + i % 40 if i % 4 < 2 else None) for i in range(200)]
    outcomes = await asyncio.gather(*(call(shop) if turns is None else call_then_cancel(shop, turns)
                                      for shop, turns in plan))
    cancelled = sum(1 for o in outcomes if o is True)
    uncancelled = sum(1 for _, turns in plan if turns is None)
    assert not leaks, leaks[:5]
    assert finished >= uncancelled == 100  # every request left alone finished and was checked
    assert cancelled > 0, "no cancellation landed inside a request: this test exercised nothing"
