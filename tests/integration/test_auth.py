"""Sign-in, lock-out, CSRF, sessions and roles, through the HTML forms and the JSON API."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from app.accounts.tables import Session, User
from app.audit.tables import AuditEntry
from app.lib.db import tenant_context
from tests.conftest import ShopFixture, browser_login, csrf_from


async def _audit_actions(shop: ShopFixture) -> list[str]:
    async with tenant_context(shop.tenant):
        rows = await AuditEntry.select(AuditEntry.action).order_by(AuditEntry.id)
    return [r["action"] for r in rows]


async def test_login_success_sets_scoped_httponly_cookie(fx_client: Any, fx_shop: ShopFixture) -> None:
    resp = await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    assert resp.status_code == 303
    cookie = [h for h in resp.headers.get_list("set-cookie") if h.startswith("sb_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax") and f"Path=/t/{fx_shop.slug}" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert len(token) >= 22  # >= 128 bits, URL-safe base64
    me = await fx_client.get(f"/t/{fx_shop.slug}/api/v1/me")
    assert me.status_code == 200 and me.json()["auth"] == "session"
    assert "login.succeeded" in await _audit_actions(fx_shop)


async def test_wrong_password_is_401_and_audited(fx_client: Any, fx_shop: ShopFixture) -> None:
    resp = await browser_login(fx_client, fx_shop.slug, fx_shop.email, "not the password!")
    assert resp.status_code == 401 and "Wrong email or password" in resp.text
    resp = await browser_login(fx_client, fx_shop.slug, "nobody@nowhere.example", "not the password!")
    assert resp.status_code == 401 and "Wrong email or password" in resp.text
    assert (await _audit_actions(fx_shop)).count("login.failed") == 2


async def test_lockout_after_repeated_failures_with_backoff(fx_client: Any, fx_shop: ShopFixture) -> None:
    for _ in range(5):
        assert (await browser_login(fx_client, fx_shop.slug, fx_shop.email, "wrong password!")).status_code == 401
    locked = await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    assert locked.status_code == 429 and "Try again in" in locked.text
    async with tenant_context(fx_shop.tenant):
        row = await User.select(User.locked_until, User.failed_logins).where(User.email == fx_shop.email).first()
        first_lock = row["locked_until"] - dt.datetime.now(dt.UTC)
        assert dt.timedelta(seconds=20) < first_lock <= dt.timedelta(seconds=31)
        # The lock passes; one more failure locks for twice as long.
        await User.update({User.locked_until: dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)}).where(
            User.email == fx_shop.email)
    assert (await browser_login(fx_client, fx_shop.slug, fx_shop.email, "wrong again!!")).status_code == 401
    async with tenant_context(fx_shop.tenant):
        row = await User.select(User.locked_until).where(User.email == fx_shop.email).first()
        assert row["locked_until"] - dt.datetime.now(dt.UTC) > dt.timedelta(seconds=50)
        await User.update({User.locked_until: None}).where(User.email == fx_shop.email)
    ok = await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    assert ok.status_code == 303
    assert "login.locked" in await _audit_actions(fx_shop)


async def test_csrf_missing_or_wrong_is_403(fx_client: Any, fx_shop: ShopFixture) -> None:
    await csrf_from(fx_client, f"/t/{fx_shop.slug}/login")  # sets the CSRF cookie
    missing = await fx_client.post(f"/t/{fx_shop.slug}/login", data={"email": fx_shop.email,
                                                                      "password": fx_shop.password})
    assert missing.status_code == 403 and "CSRF" in missing.text
    wrong = await fx_client.post(f"/t/{fx_shop.slug}/login", data={"email": fx_shop.email, "password": fx_shop.password,
                                                                    "_csrf": "0" * 64})
    assert wrong.status_code == 403
    # Logged in, a JSON call with only the session cookie and no header is refused too.
    assert (await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)).status_code == 303
    resp = await fx_client.post(f"/t/{fx_shop.slug}/api/v1/api-keys", json={"name": "from a forged page"})
    assert resp.status_code == 403
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/settings/api-keys")
    resp = await fx_client.post(f"/t/{fx_shop.slug}/api/v1/api-keys", json={"name": "legit"},
                                headers={"X-CSRF-Token": token})
    assert resp.status_code == 201


async def test_session_rotates_at_login_and_logout_revokes(fx_client: Any, fx_shop: ShopFixture) -> None:
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    first = fx_client.cookies.get("sb_session", path=f"/t/{fx_shop.slug}")
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    second = fx_client.cookies.get("sb_session", path=f"/t/{fx_shop.slug}")
    assert first and second and first != second
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/")
    resp = await fx_client.post(f"/t/{fx_shop.slug}/logout", data={"_csrf": token})
    assert resp.status_code == 303
    replay = await fx_client.get(f"/t/{fx_shop.slug}/api/v1/me", headers={"cookie": f"sb_session={second}"})
    assert replay.status_code == 401


async def test_idle_and_absolute_expiry(fx_client: Any, fx_shop: ShopFixture) -> None:
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    assert (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/me")).status_code == 200
    now = dt.datetime.now(dt.UTC)
    async with tenant_context(fx_shop.tenant):
        await Session.update({Session.last_seen_at: now - dt.timedelta(minutes=121)}, force=True)
    assert (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/me")).status_code == 401
    page = await fx_client.get(f"/t/{fx_shop.slug}/", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith(f"/t/{fx_shop.slug}/login")
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    async with tenant_context(fx_shop.tenant):
        await Session.update({Session.expires_at: now - dt.timedelta(seconds=1)}, force=True)
    assert (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/me")).status_code == 401


async def _add_user(shop: ShopFixture, role: str) -> tuple[str, str]:
    from app.lib.security import hash_password

    email, password = f"{role}.{secrets.token_hex(3)}@{shop.slug.replace('_', '-')}.example", f"{role}-password-123"
    async with tenant_context(shop.tenant):
        await User.insert(User(email=email, name=role.title(), role=role, password_hash=await hash_password(password)))
    return email, password


async def test_roles_limit_what_each_user_can_do(fx_client: Any, fx_shop: ShopFixture) -> None:
    op_email, op_password = await _add_user(fx_shop, "operator")
    admin_email, admin_password = await _add_user(fx_shop, "admin")
    base = f"/t/{fx_shop.slug}"

    await browser_login(fx_client, fx_shop.slug, op_email, op_password)
    token = await csrf_from(fx_client, f"{base}/")
    h = {"X-CSRF-Token": token}
    assert (await fx_client.get(f"{base}/api/v1/me")).json()["role"] == "operator"
    assert (await fx_client.get(f"{base}/api/v1/api-keys")).status_code == 403
    assert (await fx_client.post(f"{base}/api/v1/invitations", json={"email": "x@y.example"}, headers=h)).status_code == 403
    assert (await fx_client.get(f"{base}/api/v1/audit")).status_code == 403
    page = await fx_client.get(f"{base}/settings/team", headers={"accept": "text/html"})
    assert page.status_code == 403 and "admin role" in page.text

    await browser_login(fx_client, fx_shop.slug, admin_email, admin_password)
    h = {"X-CSRF-Token": await csrf_from(fx_client, f"{base}/")}
    users = {u["email"]: u["id"] for u in (await fx_client.get(f"{base}/api/v1/users")).json()}
    # An admin may not grant or take `owner`, nor change their own role.
    resp = await fx_client.patch(f"{base}/api/v1/users/{users[op_email]}", json={"role": "owner"}, headers=h)
    assert resp.status_code == 403 and "owner" in resp.json()["detail"]
    resp = await fx_client.patch(f"{base}/api/v1/users/{users[fx_shop.email]}", json={"role": "operator"}, headers=h)
    assert resp.status_code == 403
    resp = await fx_client.patch(f"{base}/api/v1/users/{users[admin_email]}", json={"role": "operator"}, headers=h)
    assert resp.status_code == 403
    resp = await fx_client.patch(f"{base}/api/v1/users/{users[op_email]}", json={"role": "supervisor"}, headers=h)
    assert resp.status_code == 200 and resp.json()["role"] == "supervisor"
    resp = await fx_client.patch(f"{base}/api/v1/users/{users[op_email]}", json={"role": "emperor"}, headers=h)
    assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "role"


async def test_last_owner_cannot_be_demoted_and_disabling_ends_sessions(fx_client: Any, fx_shop: ShopFixture) -> None:
    base = f"/t/{fx_shop.slug}"
    op_email, op_password = await _add_user(fx_shop, "operator")
    owner2_email, _ = await _add_user(fx_shop, "owner")
    users = {u["email"]: u["id"] for u in (await fx_client.get(f"{base}/api/v1/users", headers=fx_shop.auth)).json()}
    # Two owners: the second may be demoted; then the first is the last one.
    resp = await fx_client.patch(f"{base}/api/v1/users/{users[owner2_email]}", json={"role": "admin"},
                                 headers=fx_shop.auth)
    assert resp.status_code == 200
    # Operator signs in; the owner disables them; their session dies at once.
    other = fx_client
    await browser_login(other, fx_shop.slug, op_email, op_password)
    assert (await other.get(f"{base}/api/v1/me")).status_code == 200
    resp = await fx_client.patch(f"{base}/api/v1/users/{users[op_email]}", json={"status": "disabled"},
                                 headers=fx_shop.auth)
    assert resp.status_code == 200 and resp.json()["status"] == "disabled"
    assert (await other.get(f"{base}/api/v1/me")).status_code == 401
    assert (await browser_login(other, fx_shop.slug, op_email, op_password)).status_code == 401


async def test_audit_log_is_append_only(fx_shop: ShopFixture) -> None:
    import asyncpg
    import pytest

    async with tenant_context(fx_shop.tenant):
        assert await AuditEntry.count() >= 1
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        async with tenant_context(fx_shop.tenant):
            await AuditEntry.update({AuditEntry.action: "tampered"}, force=True)
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        async with tenant_context(fx_shop.tenant):
            await AuditEntry.delete(force=True)
