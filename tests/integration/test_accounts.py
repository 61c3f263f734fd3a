"""API keys, invitations (mail through a real SMTP server) and the workspace profile."""

from __future__ import annotations

import asyncio
import re
import zoneinfo
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from app.accounts.services import workspace_zone
from app.lib.db import tenant_context
from app.lib.jobs import Worker
from tests.conftest import TEST_DSN, Inbox, ShopFixture, csrf_from, free_port, run_jobs_until


async def test_api_key_shown_once_listed_without_secret_and_revocable(fx_client: Any, fx_shop: ShopFixture) -> None:
    base = f"/t/{fx_shop.slug}/api/v1"
    created = await fx_client.post(f"{base}/api-keys", json={"name": "shop backend"}, headers=fx_shop.auth)
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("sbk_")
    listing = await fx_client.get(f"{base}/api-keys", headers=fx_shop.auth)
    assert secret not in listing.text and "shop backend" in listing.text
    new_auth = {"Authorization": f"Bearer {secret}"}
    assert (await fx_client.get(f"{base}/me", headers=new_auth)).status_code == 200
    key_id = created.json()["key"]["id"]
    revoked = await fx_client.delete(f"{base}/api-keys/{key_id}", headers=fx_shop.auth)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert (await fx_client.get(f"{base}/me", headers=new_auth)).status_code == 404
    audit = (await fx_client.get(f"{base}/audit", headers=fx_shop.auth)).json()["items"]
    assert {"api_key.created", "api_key.revoked"} <= {e["action"] for e in audit}
    bad = await fx_client.post(f"{base}/api-keys", json={"name": ""}, headers=fx_shop.auth)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "name"


async def test_invitation_mail_is_sent_by_a_job_and_accepting_creates_the_user(
    fx_client: Any, fx_shop: ShopFixture, fx_inbox: Inbox
) -> None:
    base = f"/t/{fx_shop.slug}"
    resp = await fx_client.post(f"{base}/api/v1/invitations", json={"email": "New.Op@Example.COM", "role": "operator"},
                                headers=fx_shop.auth)
    assert resp.status_code == 201 and resp.json()["email"] == "new.op@example.com"
    await run_jobs_until(lambda: fx_inbox.messages)
    assert fx_inbox.messages, "the invitation job did not send mail"
    msg = fx_inbox.messages[-1]
    assert msg["To"] == "new.op@example.com" and "invited" in msg["Subject"]
    body = msg.get_payload(0).get_payload(decode=True).decode()
    link = re.search(r"http://testserver\.local(/t/\S+/invite/\S+)", body).group(1)

    page = await fx_client.get(link, headers={"accept": "text/html"})
    assert page.status_code == 200 and "new.op@example.com" in page.text
    token = await csrf_from(fx_client, link)
    weak = await fx_client.post(link, data={"name": "New Op", "password": "short", "_csrf": token})
    assert weak.status_code == 400 and "at least 10" in weak.text
    ok = await fx_client.post(link, data={"name": "New Op", "password": "a fine long password", "_csrf": token})
    assert ok.status_code == 303
    me = await fx_client.get(f"{base}/api/v1/me")
    assert me.json()["email"] == "new.op@example.com" and me.json()["role"] == "operator"
    # The link works once.
    assert (await fx_client.get(link, headers={"accept": "text/html"})).status_code == 404


async def test_invitation_rules(fx_client: Any, fx_shop: ShopFixture) -> None:
    base = f"/t/{fx_shop.slug}/api/v1"
    dup = await fx_client.post(f"{base}/invitations", json={"email": fx_shop.email}, headers=fx_shop.auth)
    assert dup.status_code == 409
    owner = await fx_client.post(f"{base}/invitations", json={"email": "o2@x.example", "role": "owner"},
                                 headers=fx_shop.auth)
    assert owner.status_code == 403
    bad = await fx_client.post(f"{base}/invitations", json={"email": "nope"}, headers=fx_shop.auth)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "email"
    inv = (await fx_client.post(f"{base}/invitations", json={"email": "later@x.example"}, headers=fx_shop.auth)).json()
    assert (await fx_client.delete(f"{base}/invitations/{inv['id']}", headers=fx_shop.auth)).status_code == 204
    assert "later@x.example" not in (await fx_client.get(f"{base}/invitations", headers=fx_shop.auth)).text


async def test_workspace_profile_validation(fx_client: Any, fx_shop: ShopFixture) -> None:
    base = f"/t/{fx_shop.slug}/api/v1"
    bad_tz = await fx_client.put(f"{base}/workspace", json={"timezone": "Mars/Olympus"}, headers=fx_shop.auth)
    assert bad_tz.status_code == 400 and bad_tz.json()["errors"][0]["field"] == "timezone"
    bad_region = await fx_client.put(f"{base}/workspace", json={"default_region": "XX"}, headers=fx_shop.auth)
    assert bad_region.status_code == 400
    ok = await fx_client.put(f"{base}/workspace", json={"timezone": "Europe/Berlin", "default_region": "de"},
                             headers=fx_shop.auth)
    assert ok.status_code == 200 and ok.json()["default_region"] == "DE"


async def test_the_workspace_zone_is_the_profiles_else_utc(fx_client: Any, fx_shop: ShopFixture) -> None:
    """The one read of the workspace's zone every domain's "today" and nightly run use."""
    base = f"/t/{fx_shop.slug}/api/v1"
    async with tenant_context(fx_shop.tenant):
        assert await workspace_zone() == zoneinfo.ZoneInfo("UTC")  # a new workspace's default
    assert (await fx_client.put(f"{base}/workspace", json={"timezone": "Asia/Tokyo"},
                                headers=fx_shop.auth)).status_code == 200
    async with tenant_context(fx_shop.tenant) as uow:
        assert await workspace_zone() == zoneinfo.ZoneInfo("Asia/Tokyo")
        await uow.connection.execute("UPDATE workspace SET timezone = ''")
        assert await workspace_zone() == zoneinfo.ZoneInfo("UTC")


async def test_health(fx_client: Any) -> None:
    resp = await fx_client.get("/health")
    assert resp.status_code == 200 and resp.json()["db"] == "ok"
    schema = await fx_client.get("/schema/openapi.json")
    paths = schema.json()["paths"]
    assert "/api/v1/signup" in paths and "/t/{slug}/api/v1/me" in paths


async def test_openapi_covers_every_json_route_with_typed_bodies(fx_client: Any) -> None:
    """Every /api/v1 route is in /schema, and every JSON body it takes is a declared shape (validated at the edge),
    not a free-form object."""
    paths = (await fx_client.get("/schema/openapi.json")).json()["paths"]
    routes = {r.path.replace(":int", "").replace(":str", "") for r in fx_client._transport.app.routes}
    assert sorted(r for r in routes if "/api/v1" in r and r not in paths) == []
    untyped = [(method, path) for path, ops in paths.items() for method, op in ops.items()
               for ctype, content in op.get("requestBody", {}).get("content", {}).items()
               if ctype == "application/json" and "$ref" not in content.get("schema", {})
               and not content.get("schema", {}).get("properties")]
    assert untyped == []


async def _failed_attempts(invitation_id: int, within: float = 30.0) -> dict[str, Any]:
    """The invitation job's queue row once an attempt has failed (fails the test when none has in time)."""
    import asyncpg

    conn = await asyncpg.connect(TEST_DSN)
    try:
        for _ in range(int(within / 0.1)):
            row = await conn.fetchrow(
                "SELECT q.attempts, q.status, (SELECT l.traceback::text FROM public.pgqueuer_log l "
                "WHERE l.job_id = q.id AND l.traceback IS NOT NULL ORDER BY l.id DESC LIMIT 1) AS traceback "
                "FROM public.pgqueuer q WHERE q.entrypoint = 'accounts.send_invitation' "
                "AND (convert_from(q.payload, 'UTF8')::jsonb ->> 'invitation_id')::int = $1", invitation_id)
            if row is not None and row["attempts"] >= 1:
                return dict(row)
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    raise AssertionError(f"no failed attempt of invitation {invitation_id}'s mail within {within} s")


async def test_invitation_mail_survives_smtp_outage(
    fx_client: Any, fx_shop: ShopFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SMTP down: the job fails, is kept and retried with back-off, and delivers once the server is back."""
    from app.settings import get_settings

    port = free_port()
    monkeypatch.setenv("SMTP_PORT", str(port))
    get_settings.cache_clear()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    worker = Worker(TEST_DSN, poll_seconds=0.2)
    try:
        resp = await fx_client.post(f"/t/{fx_shop.slug}/api/v1/invitations", json={"email": "retry@x.example"},
                                    headers=fx_shop.auth)
        assert resp.status_code == 201
        await worker.start()
        invitation_id = resp.json()["id"]
        failed = await _failed_attempts(invitation_id)  # at least one failed attempt against the closed port
        assert failed["attempts"] >= 1 and failed["status"] == "queued", failed  # kept and queued again
        assert failed["traceback"], failed  # with the reason it failed
        assert not inbox.messages
        controller.start()
        for _ in range(200):
            if any(m["To"] == "retry@x.example" for m in inbox.messages):
                break
            await asyncio.sleep(0.05)
        assert any(m["To"] == "retry@x.example" for m in inbox.messages)
    finally:
        await worker.stop()
        if controller.server is not None:
            controller.stop()
        monkeypatch.undo()
        get_settings.cache_clear()


async def test_renaming_the_shop_renames_it_everywhere(fx_client: Any, fx_shop: ShopFixture) -> None:
    resp = await fx_client.put(f"/t/{fx_shop.slug}/api/v1/workspace", json={"display_name": "Renamed Teas"},
                               headers=fx_shop.auth)
    assert resp.status_code == 200
    login = await fx_client.get(f"/t/{fx_shop.slug}/login", headers={"accept": "text/html"})
    assert "Sign in to Renamed Teas" in login.text
