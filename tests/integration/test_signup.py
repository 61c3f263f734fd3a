"""Signup through the JSON API and the web form: one transaction, clear errors, nothing half-created."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.piccolo_conf import DB
from tests.conftest import csrf_from, unique_slug


async def _schemas_and_rows(slug: str) -> tuple[bool, bool]:
    async with DB.pool.acquire() as conn:
        schema = await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname::text = $1", f"t_{slug}")
        row = await conn.fetchval("SELECT count(*) FROM public.tenant WHERE slug = $1", slug)
    return bool(schema), bool(row)


def _body(slug: str, **over: Any) -> dict[str, Any]:
    body = {"shop_name": "Corner Shop", "slug": slug, "email": f"owner@{slug.replace('_', '-')}.example",
            "password": "a long enough passphrase"}
    body.update(over)
    return body


async def test_signup_creates_workspace_and_key(fx_client: Any) -> None:
    slug = unique_slug("ok")
    resp = await fx_client.post("/api/v1/signup", json=_body(slug))
    assert resp.status_code == 201, resp.text
    data = resp.json()
    assert data["slug"] == slug and data["api_key"].startswith("sbk_")
    me = await fx_client.get(f"/t/{slug}/api/v1/me", headers={"Authorization": f"Bearer {data['api_key']}"})
    assert me.status_code == 200
    assert me.json()["role"] == "owner" and me.json()["email"] == f"owner@{slug.replace('_', '-')}.example"
    assert await _schemas_and_rows(slug) == (True, True)


@pytest.mark.parametrize(
    ("slug", "field_fragment"),
    [
        ("admin", "reserved"),
        ("api", "reserved"),
        ("public", "reserved"),
        ("pg_shop", "reserved"),
        ("x; DROP SCHEMA public CASCADE; --", "lowercase"),
        ("shop\"; select 1; --", "lowercase"),
        ("Shop", "lowercase"),
        ("магазин", "lowercase"),
        ("café_shop", "lowercase"),
        ("a" * 63, "at most 41"),
        ("ab", "lowercase"),
        ("1shop", "lowercase"),
        ("", "Choose"),
    ],
)
async def test_bad_slugs_are_refused_and_leave_nothing(fx_client: Any, slug: str, field_fragment: str) -> None:
    resp = await fx_client.post("/api/v1/signup", json=_body(slug))
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert field_fragment in body["detail"]
    assert body["errors"][0]["field"] == "slug"
    async with DB.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM public.tenant WHERE slug = $1", slug) == 0
        assert await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname::text = $1", f"t_{slug}") == 0


async def test_duplicate_slug_is_409(fx_client: Any) -> None:
    slug = unique_slug("dup")
    assert (await fx_client.post("/api/v1/signup", json=_body(slug))).status_code == 201
    resp = await fx_client.post("/api/v1/signup", json=_body(slug, email="someone@else.example"))
    assert resp.status_code == 409
    assert "already taken" in resp.json()["detail"]


async def test_concurrent_signups_for_one_slug_make_one_tenant(fx_client: Any) -> None:
    slug = unique_slug("race")
    answers = await asyncio.gather(*(fx_client.post("/api/v1/signup", json=_body(slug)) for _ in range(5)))
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 1 and set(codes) <= {201, 409}, codes
    assert await _schemas_and_rows(slug) == (True, True)


@pytest.mark.parametrize(
    ("override", "field", "fragment"),
    [
        ({"password": "short"}, "password", "at least 10"),
        ({"password": "password123"}, "password", "too easy"),
        ({"email": "not-an-email"}, "email", "not valid"),
        ({"email": "a@b"}, "email", "not valid"),
        ({"shop_name": "  "}, "shop_name", "shop's name"),
    ],
)
async def test_bad_fields_name_the_field(fx_client: Any, override: dict[str, str], field: str, fragment: str) -> None:
    slug = unique_slug("bad")
    resp = await fx_client.post("/api/v1/signup", json=_body(slug, **override))
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["field"] == field
    assert fragment in resp.json()["detail"]
    assert await _schemas_and_rows(slug) == (False, False)


async def test_malformed_body_is_400_not_500(fx_client: Any) -> None:
    resp = await fx_client.post("/api/v1/signup", content=b"{not json", headers={"content-type": "application/json"})
    assert resp.status_code == 400
    resp = await fx_client.post("/api/v1/signup", json={"slug": "abc"})
    assert resp.status_code == 400 and "shop_name" in resp.text
    resp = await fx_client.post("/api/v1/signup", json={**_body(unique_slug()), "slug": 12})
    assert resp.status_code == 400 and "slug" in resp.text


async def test_failure_midway_leaves_no_schema(fx_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash after the schema and tables exist rolls everything back, registry row included."""
    from app.accounts import services as accounts

    async def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(accounts, "seed_workspace", boom)
    slug = unique_slug("crash")
    with pytest.raises(RuntimeError):
        from tenants import services

        await services.signup("Crash", slug, "o@crash.example", "a long enough passphrase")
    assert await _schemas_and_rows(slug) == (False, False)


async def test_web_signup_lands_in_onboarding(fx_client: Any) -> None:
    slug = unique_slug("web")
    token = await csrf_from(fx_client, "/signup")
    resp = await fx_client.post("/signup", data={"shop_name": "Web Shop", "slug": slug, "email": "me@web.example",
                                                 "password": "a long enough passphrase", "_csrf": token},
                                follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == f"/t/{slug}/onboarding"
    page = await fx_client.get(f"/t/{slug}/onboarding", headers={"accept": "text/html"})
    assert page.status_code == 200 and "Tell us about your shop" in page.text


async def test_web_signup_without_csrf_is_403(fx_client: Any) -> None:
    slug = unique_slug("nocsrf")
    resp = await fx_client.post("/signup", data={"shop_name": "X", "slug": slug, "email": "me@web.example",
                                                 "password": "a long enough passphrase"})
    assert resp.status_code == 403
    assert await _schemas_and_rows(slug) == (False, False)
