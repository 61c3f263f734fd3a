"""Two-factor sign-in: enrolment, the second step before any session, replay, recovery codes, attempt limits, the
shop's policy, an admin's reset, and tenant isolation -- through the HTML forms and the JSON API."""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pyotp

from app.accounts.tables import RecoveryCode, User, UserTotp
from app.accounts.twofa import TOTP_PURPOSE
from app.audit.tables import AuditEntry
from app.lib.crypto import decrypt
from app.lib.db import tenant_context
from app.lib.security import hash_password
from tests.conftest import ShopFixture, browser_login, csrf_from


@contextlib.asynccontextmanager
async def _browser(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of its own (its own cookie jar), as fx_client is built."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
        yield client


async def _add_user(shop: ShopFixture, role: str) -> tuple[int, str, str]:
    email, password = f"{role}.{secrets.token_hex(3)}@{shop.slug.replace('_', '-')}.example", f"{role}-password-123"
    async with tenant_context(shop.tenant):
        rows = await User.insert(User(email=email, name=role.title(), role=role,
                                      password_hash=await hash_password(password))).returning(User.id)
    return rows[0]["id"], email, password


async def _enrol_by_key(client: Any, shop: ShopFixture) -> tuple[pyotp.TOTP, list[str]]:
    base = f"/t/{shop.slug}/api/v1/me/2fa"
    setup = (await client.post(f"{base}/setup", headers=shop.auth)).json()
    totp = pyotp.TOTP(setup["secret"])
    confirmed = await client.post(f"{base}/confirm", json={"code": totp.now()}, headers=shop.auth)
    assert confirmed.status_code == 201, confirmed.text
    return totp, confirmed.json()["recovery_codes"]


async def _enrol_in_session(client: Any, slug: str) -> tuple[pyotp.TOTP, list[str]]:
    h = {"X-CSRF-Token": await csrf_from(client, f"/t/{slug}/profile")}
    setup = (await client.post(f"/t/{slug}/api/v1/me/2fa/setup", headers=h)).json()
    totp = pyotp.TOTP(setup["secret"])
    confirmed = await client.post(f"/t/{slug}/api/v1/me/2fa/confirm", json={"code": totp.now()}, headers=h)
    assert confirmed.status_code == 201, confirmed.text
    return totp, confirmed.json()["recovery_codes"]


async def _second_step(client: Any, slug: str, code: str) -> Any:
    token = await csrf_from(client, f"/t/{slug}/login/2fa")
    return await client.post(f"/t/{slug}/login/2fa", data={"code": code, "_csrf": token},
                             headers={"accept": "text/html"})


def _wrong_code(totp: pyotp.TOTP) -> str:
    """Six digits that are none of the codes the window accepts now."""
    t = time.time()
    valid = {totp.at(t + d) for d in (-60, -30, 0, 30, 60)}
    return next(c for c in (f"{n:06d}" for n in range(1000, 2000)) if c not in valid)


def _next_code(totp: pyotp.TOTP) -> str:
    """The code of the next time step: accepted (valid_window=1) even if the current step was just spent."""
    return totp.at(time.time() + 30)


async def _has_session(client: Any, slug: str) -> bool:
    """The browser holds a live session (a cookie that the API accepts)."""
    return (await client.get(f"/t/{slug}/api/v1/me")).status_code == 200


async def _actions(shop: ShopFixture) -> list[dict[str, Any]]:
    async with tenant_context(shop.tenant):
        return await AuditEntry.select(AuditEntry.action, AuditEntry.target_id, AuditEntry.detail).order_by(
            AuditEntry.id).output(load_json=True)


async def test_enrol_then_sign_in_needs_a_code_that_works_once(fx_app: Any, fx_client: Any,
                                                                fx_shop: ShopFixture) -> None:
    slug, base = fx_shop.slug, f"/t/{fx_shop.slug}/api/v1/me/2fa"
    state = (await fx_client.get(base, headers=fx_shop.auth)).json()
    assert state["enabled"] is False and state["recovery_codes_left"] == 0
    setup = (await fx_client.post(f"{base}/setup", headers=fx_shop.auth)).json()
    assert setup["otpauth_uri"].startswith("otpauth://totp/") and "issuer=Switchboard" in setup["otpauth_uri"]
    assert slug in setup["otpauth_uri"]  # the shop's name is in the issuer: "Switchboard (Shop a_…)"
    totp = pyotp.TOTP(setup["secret"])
    assert (await fx_client.get(base, headers=fx_shop.auth)).json()["pending"] is True
    wrong = await fx_client.post(f"{base}/confirm", json={"code": _wrong_code(totp)}, headers=fx_shop.auth)
    assert wrong.status_code == 400 and "not right" in wrong.json()["detail"]
    assert (await fx_client.get(base, headers=fx_shop.auth)).json()["enabled"] is False
    confirmed = await fx_client.post(f"{base}/confirm", json={"code": totp.now()}, headers=fx_shop.auth)
    assert confirmed.status_code == 201
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    state = (await fx_client.get(base, headers=fx_shop.auth)).json()
    assert state["enabled"] is True and state["recovery_codes_left"] == 10

    # The seed is stored encrypted for this tenant; recovery codes only as digests.
    async with tenant_context(fx_shop.tenant):
        row = await UserTotp.select(UserTotp.secret_enc).where(UserTotp.user == fx_shop.user_id).first()
        assert setup["secret"] not in row["secret_enc"]
        assert decrypt(row["secret_enc"], purpose=TOTP_PURPOSE) == setup["secret"]
        hashes = {r["code_hash"] for r in await RecoveryCode.select(RecoveryCode.code_hash)}
        assert len(hashes) == 10 and not any(c in h or c.replace("-", "") in h for c in codes for h in hashes)

    # The password alone starts no session: no page, no API.
    first = await browser_login(fx_client, slug, fx_shop.email, fx_shop.password)
    assert first.status_code == 303 and first.headers["location"] == f"/t/{slug}/login/2fa"
    assert not await _has_session(fx_client, slug)
    assert (await fx_client.get(f"/t/{slug}/api/v1/me")).status_code == 401
    home = await fx_client.get(f"/t/{slug}/", headers={"accept": "text/html"})
    assert home.status_code == 303 and home.headers["location"].startswith(f"/t/{slug}/login")

    refused = await _second_step(fx_client, slug, _wrong_code(totp))
    assert refused.status_code == 401 and "not right" in refused.text and not await _has_session(fx_client, slug)
    code = _next_code(totp)
    ok = await _second_step(fx_client, slug, code)
    assert ok.status_code == 303 and ok.headers["location"] == f"/t/{slug}/" and await _has_session(fx_client, slug)
    me = await fx_client.get(f"/t/{slug}/api/v1/me")
    assert me.status_code == 200 and me.json()["email"] == fx_shop.email
    entries = await _actions(fx_shop)
    assert entries[-1]["action"] == "login.succeeded" and entries[-1]["detail"] == {"second_factor": "totp"}
    assert any(e["action"] == "login.failed" and "second-factor" in e["detail"].get("reason", "") for e in entries)

    # The same code, in another browser, within its window: refused.
    async with _browser(fx_app) as other:
        assert (await browser_login(other, slug, fx_shop.email, fx_shop.password)).status_code == 303
        replay = await _second_step(other, slug, code)
        assert replay.status_code == 401 and not await _has_session(other, slug)
        # A recovery code works once ...
        rescued = await _second_step(other, slug, codes[0])
        assert rescued.status_code == 303 and await _has_session(other, slug)
    async with _browser(fx_app) as third:
        assert (await browser_login(third, slug, fx_shop.email, fx_shop.password)).status_code == 303
        # ... not twice
        assert (await _second_step(third, slug, codes[0])).status_code == 401
        # Typed in capitals, without the dashes: still the code.
        spelled = await _second_step(third, slug, " " + codes[1].replace("-", "").upper() + " ")
        assert spelled.status_code == 303 and await _has_session(third, slug)
        # The spent challenge cannot be used for another session.
        third.cookies.delete("sb_session", path=f"/t/{slug}")
        again = await _second_step(third, slug, codes[2])
        assert again.status_code == 401 and not await _has_session(third, slug)
    assert (await fx_client.get(base, headers=fx_shop.auth)).json()["recovery_codes_left"] == 8
    assert any(e["action"] == "login.succeeded" and e["detail"].get("second_factor") == "recovery_code"
               for e in await _actions(fx_shop))


async def test_the_second_step_needs_the_cookie_of_its_own_sign_in(fx_app: Any, fx_client: Any,
                                                                  fx_shop: ShopFixture) -> None:
    slug = fx_shop.slug
    totp, _ = await _enrol_by_key(fx_client, fx_shop)
    async with _browser(fx_app) as stranger:
        page = await stranger.get(f"/t/{slug}/login/2fa", headers={"accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == f"/t/{slug}/login"
        token = await csrf_from(stranger, f"/t/{slug}/login")
        forged = await stranger.post(f"/t/{slug}/login/2fa", data={"code": _next_code(totp), "_csrf": token},
                                     headers={"accept": "text/html"})
        assert forged.status_code == 401 and not await _has_session(stranger, slug)
    # An expired challenge is refused with a way back to the password.
    assert (await browser_login(fx_client, slug, fx_shop.email, fx_shop.password)).status_code == 303
    async with tenant_context(fx_shop.tenant):
        from app.accounts.tables import LoginChallenge

        await LoginChallenge.update({LoginChallenge.expires_at: LoginChallenge.created_at}, force=True)
    token = await csrf_from(fx_client, f"/t/{slug}/login")
    late = await fx_client.post(f"/t/{slug}/login/2fa", data={"code": _next_code(totp), "_csrf": token},
                                headers={"accept": "text/html"})
    assert late.status_code == 401 and "expired" in late.text and not await _has_session(fx_client, slug)


async def test_attempts_are_rate_limited_with_a_clear_message(fx_client: Any, fx_shop: ShopFixture) -> None:
    slug = fx_shop.slug
    totp, _ = await _enrol_by_key(fx_client, fx_shop)
    assert (await browser_login(fx_client, slug, fx_shop.email, fx_shop.password)).status_code == 303
    token = await csrf_from(fx_client, f"/t/{slug}/login/2fa")
    statuses = []
    # confirm spent one attempt of the user's allowance (10 per 5 minutes); a fixed window may restart once.
    for _ in range(25):
        resp = await fx_client.post(f"/t/{slug}/login/2fa", data={"code": _wrong_code(totp), "_csrf": token},
                                    headers={"accept": "text/html"})
        statuses.append(resp.status_code)
        if resp.status_code == 429:
            assert "Too many codes tried" in resp.text
            break
    assert 429 in statuses, statuses
    assert all(s == 401 for s in statuses[:9]), statuses
    assert not await _has_session(fx_client, slug)


async def test_policy_everyone_sends_to_enrolment_before_anything(fx_app: Any, fx_client: Any,
                                                                   fx_shop: ShopFixture) -> None:
    slug, policy_url = fx_shop.slug, f"/t/{fx_shop.slug}/api/v1/security/2fa-policy"
    assert (await fx_client.get(policy_url, headers=fx_shop.auth)).json() == {"policy": "off"}
    _, op_email, op_password = await _add_user(fx_shop, "operator")
    async with _browser(fx_app) as op:
        assert (await browser_login(op, slug, op_email, op_password)).status_code == 303
        assert (await op.get(f"/t/{slug}/api/v1/me")).status_code == 200
        h = {"X-CSRF-Token": await csrf_from(op, f"/t/{slug}/profile")}
        assert (await op.put(policy_url, json={"policy": "off"}, headers=h)).status_code == 403

        # The owner has no 2FA yet: requiring it of everyone is refused until they have it.
        first = await fx_client.put(policy_url, json={"policy": "everyone"}, headers=fx_shop.auth)
        assert first.status_code == 409 and "yourself first" in first.json()["detail"]
        bad = await fx_client.put(policy_url, json={"policy": "sometimes"}, headers=fx_shop.auth)
        assert bad.status_code == 400
        await _enrol_by_key(fx_client, fx_shop)
        resp = await fx_client.put(policy_url, json={"policy": "everyone"}, headers=fx_shop.auth)
        assert resp.status_code == 200 and resp.json() == {"policy": "everyone"}
        changed = [e for e in await _actions(fx_shop) if e["action"] == "twofa.policy_changed"]
        assert changed and changed[-1]["detail"]["after"] == "everyone" and changed[-1]["detail"]["sessions_ended"] >= 1

        # The operator's session ended; after the password, only the enrolment is reachable.
        assert (await op.get(f"/t/{slug}/api/v1/me")).status_code == 401
        signed = await browser_login(op, slug, op_email, op_password)
        assert signed.status_code == 303 and signed.headers["location"] == f"/t/{slug}/login/2fa/setup"
        assert not await _has_session(op, slug)
        for path in ("/", "/contacts/", "/profile", "/console/"):
            page = await op.get(f"/t/{slug}{path}", headers={"accept": "text/html"})
            assert page.status_code == 303 and "/login" in page.headers["location"], path
        for path in ("/api/v1/me", "/api/v1/me/2fa", "/api/v1/contacts"):
            assert (await op.get(f"/t/{slug}{path}")).status_code == 401, path
        code_page = await op.get(f"/t/{slug}/login/2fa", headers={"accept": "text/html"})
        assert code_page.status_code == 303 and code_page.headers["location"] == f"/t/{slug}/login/2fa/setup"

        setup = await op.get(f"/t/{slug}/login/2fa/setup", headers={"accept": "text/html"})
        assert setup.status_code == 200 and "<svg" in setup.text
        secret = re.search(r'data-secret="([A-Z2-7]+)"', setup.text)
        assert secret
        totp = pyotp.TOTP(secret.group(1))
        token = re.search(r'name="_csrf" value="([^"]+)"', setup.text)
        assert token
        wrong = await op.post(f"/t/{slug}/login/2fa/setup", data={"code": _wrong_code(totp), "_csrf": token.group(1)},
                              headers={"accept": "text/html"})
        assert wrong.status_code == 400 and not await _has_session(op, slug) and secret.group(1) in wrong.text
        done = await op.post(f"/t/{slug}/login/2fa/setup", data={"code": totp.now(), "_csrf": token.group(1)},
                             headers={"accept": "text/html"})
        assert done.status_code == 200 and len(re.findall(r'data-testid="recovery-code"', done.text)) == 10
        assert await _has_session(op, slug)
        me = await op.get(f"/t/{slug}/api/v1/me")
        assert me.status_code == 200 and me.json()["email"] == op_email
        state = (await op.get(f"/t/{slug}/api/v1/me/2fa")).json()
        assert state["enabled"] and state["required"]
        # Required: the operator cannot turn it off.
        h = {"X-CSRF-Token": await csrf_from(op, f"/t/{slug}/profile")}
        off = await op.request("DELETE", f"/t/{slug}/api/v1/me/2fa", json={"code": _next_code(totp)}, headers=h)
        assert off.status_code == 403


async def test_admin_reset_is_audited_and_an_operator_cannot_reset(fx_app: Any, fx_client: Any,
                                                                    fx_shop: ShopFixture) -> None:
    slug = fx_shop.slug
    op_id, op_email, op_password = await _add_user(fx_shop, "operator")
    owner_totp, _ = await _enrol_by_key(fx_client, fx_shop)
    async with _browser(fx_app) as op:
        assert (await browser_login(op, slug, op_email, op_password)).status_code == 303
        await _enrol_in_session(op, slug)
        h = {"X-CSRF-Token": await csrf_from(op, f"/t/{slug}/profile")}
        denied = await op.delete(f"/t/{slug}/api/v1/users/{fx_shop.user_id}/2fa", headers=h)
        assert denied.status_code == 403
        assert (await fx_client.get(f"/t/{slug}/api/v1/me/2fa", headers=fx_shop.auth)).json()["enabled"] is True

        reset = await fx_client.delete(f"/t/{slug}/api/v1/users/{op_id}/2fa", headers=fx_shop.auth)
        assert reset.status_code == 200 and reset.json()["enabled"] is False
        entry = [e for e in await _actions(fx_shop) if e["action"] == "twofa.reset"]
        assert entry and entry[-1]["target_id"] == str(op_id) and entry[-1]["detail"]["email"] == op_email
        assert (await op.get(f"/t/{slug}/api/v1/me")).status_code == 401  # the operator's sessions ended
        again = await fx_client.delete(f"/t/{slug}/api/v1/users/{op_id}/2fa", headers=fx_shop.auth)
        assert again.status_code == 409
        # Policy off: the password alone signs the operator in again.
        back = await browser_login(op, slug, op_email, op_password)
        assert back.status_code == 303 and back.headers["location"] == f"/t/{slug}/" and await _has_session(op, slug)
    # The team page shows who has it, with the reset button.
    assert (await browser_login(fx_client, slug, fx_shop.email, fx_shop.password)).status_code == 303
    assert (await _second_step(fx_client, slug, _next_code(owner_totp))).status_code == 303
    team = await fx_client.get(f"/t/{slug}/settings/team", headers={"accept": "text/html"})
    assert team.status_code == 200 and f'data-testid="twofa-{fx_shop.email}">' in team.text
    assert f'data-testid="twofa-reset-{op_email}"' not in team.text  # off: nothing to reset
    assert f'data-testid="twofa-reset-{fx_shop.email}"' not in team.text  # oneself: from the profile, with a code


async def test_own_disable_needs_a_code_and_renewal_kills_old_codes(fx_client: Any, fx_shop: ShopFixture) -> None:
    base = f"/t/{fx_shop.slug}/api/v1/me/2fa"
    totp, codes = await _enrol_by_key(fx_client, fx_shop)
    renewed = await fx_client.post(f"{base}/recovery-codes", json={"code": codes[0]}, headers=fx_shop.auth)
    assert renewed.status_code == 201
    fresh = renewed.json()["recovery_codes"]
    assert len(fresh) == 10 and not set(fresh) & set(codes)
    refused = await fx_client.request("DELETE", base, json={"code": codes[1]}, headers=fx_shop.auth)
    assert refused.status_code == 400  # an old code died with the renewal
    off = await fx_client.request("DELETE", base, json={"code": _next_code(totp)}, headers=fx_shop.auth)
    assert off.status_code == 200 and off.json()["enabled"] is False
    actions = [e["action"] for e in await _actions(fx_shop)]
    assert {"twofa.enabled", "twofa.recovery_codes_renewed", "twofa.disabled"} <= set(actions)
    signed = await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    assert signed.status_code == 303 and signed.headers["location"] == f"/t/{fx_shop.slug}/"


async def test_another_shop_cannot_reach_or_reset(fx_app: Any, fx_client: Any, fx_shop: ShopFixture,
                                                  fx_other_shop: ShopFixture) -> None:
    a, b = fx_shop, fx_other_shop
    await _add_user(a, "operator")
    victim_id, victim_email, victim_password = await _add_user(a, "operator")
    async with _browser(fx_app) as victim:
        assert (await browser_login(victim, a.slug, victim_email, victim_password)).status_code == 303
        await _enrol_in_session(victim, a.slug)
    # Shop B's admin key: on shop A's address 404, on its own address the id is nobody of B's.
    for url in (f"/t/{a.slug}/api/v1/users/{victim_id}/2fa", f"/t/{b.slug}/api/v1/users/{victim_id}/2fa"):
        resp = await fx_client.delete(url, headers=b.auth)
        assert resp.status_code == 404, (url, resp.status_code)
    assert (await fx_client.put(f"/t/{a.slug}/api/v1/security/2fa-policy", json={"policy": "off"},
                                headers=b.auth)).status_code == 404
    assert (await fx_client.get(f"/t/{a.slug}/api/v1/me/2fa", headers=b.auth)).status_code == 404
    async with tenant_context(a.tenant):
        assert await UserTotp.exists().where((UserTotp.user == victim_id) & UserTotp.confirmed_at.is_not_null())
    async with tenant_context(b.tenant):
        assert not [e for e in await AuditEntry.select(AuditEntry.action) if e["action"].startswith("twofa.")]
    # A sign-in waiting for its code in shop A is nothing in shop B.
    totp_a, _ = await _enrol_by_key(fx_client, a)
    async with _browser(fx_app) as browser:
        assert (await browser_login(browser, a.slug, a.email, a.password)).status_code == 303
        challenge = browser.cookies.get("sb_2fa", path=f"/t/{a.slug}/login")
        assert challenge
        page = await browser.get(f"/t/{b.slug}/login/2fa", headers={"accept": "text/html",
                                                                     "cookie": f"sb_2fa={challenge}"})
        assert page.status_code == 303 and page.headers["location"] == f"/t/{b.slug}/login"
        token = await csrf_from(browser, f"/t/{b.slug}/login")
        cookie = f"sb_2fa={challenge}; sb_csrf={browser.cookies.get('sb_csrf')}"
        forged = await browser.post(f"/t/{b.slug}/login/2fa", data={"code": _next_code(totp_a), "_csrf": token},
                                    headers={"accept": "text/html", "cookie": cookie})
        assert forged.status_code == 401 and not await _has_session(browser, b.slug)


async def test_demo_admin_has_two_factor_sign_in_once(fx_client: Any) -> None:
    from app import demo
    from app.lib.db import resolve_active

    await demo.ensure_demo()
    await demo.ensure_demo_twofa(demo.DEMO_SLUG, demo.DEMO_ADMIN[0])
    assert await demo.ensure_demo_twofa(demo.DEMO_SLUG, demo.DEMO_ADMIN[0]) is False  # once
    tenant = await resolve_active(demo.DEMO_SLUG)
    assert tenant is not None
    async with tenant_context(tenant):
        admin = await User.select(User.id).where(User.email == demo.DEMO_ADMIN[0]).first()
        row = await UserTotp.select().where(UserTotp.user == admin["id"]).first()
        assert row is not None and row["confirmed_at"] is not None
        assert decrypt(row["secret_enc"], purpose=TOTP_PURPOSE) == demo.DEMO_TOTP_KEY
    # The demo admin signs in with a code of the published key.
    signed = await browser_login(fx_client, demo.DEMO_SLUG, *demo.DEMO_ADMIN)
    assert signed.status_code == 303 and signed.headers["location"] == f"/t/{demo.DEMO_SLUG}/login/2fa"
    ok = await _second_step(fx_client, demo.DEMO_SLUG, _next_code(pyotp.TOTP(demo.DEMO_TOTP_KEY)))
    assert ok.status_code == 303 and await _has_session(fx_client, demo.DEMO_SLUG)


async def test_an_invited_member_under_the_policy_enrols_before_the_first_session(fx_app: Any, fx_client: Any,
                                                                                  fx_shop: ShopFixture) -> None:
    from app.accounts.services import invitation_token
    from app.accounts.tables import Invitation

    slug, base = fx_shop.slug, f"/t/{fx_shop.slug}/api/v1"
    await _enrol_by_key(fx_client, fx_shop)
    assert (await fx_client.put(f"{base}/security/2fa-policy", json={"policy": "everyone"},
                                headers=fx_shop.auth)).status_code == 200
    inv = (await fx_client.post(f"{base}/invitations", json={"email": "new.op@example.com"}, headers=fx_shop.auth)).json()
    async with tenant_context(fx_shop.tenant):
        row = await Invitation.select(Invitation.created_at).where(Invitation.id == inv["id"]).first()
    link = f"/t/{slug}/invite/{invitation_token(slug, inv['id'], row['created_at'])}"
    async with _browser(fx_app) as newcomer:
        token = await csrf_from(newcomer, link)
        accepted = await newcomer.post(link, data={"name": "New Op", "password": "a fine long password",
                                                   "_csrf": token})
        assert accepted.status_code == 303 and accepted.headers["location"] == f"/t/{slug}/login/2fa/setup"
        assert not await _has_session(newcomer, slug)
        setup = await newcomer.get(f"/t/{slug}/login/2fa/setup", headers={"accept": "text/html"})
        secret = re.search(r'data-secret="([A-Z2-7]+)"', setup.text)
        token_match = re.search(r'name="_csrf" value="([^"]+)"', setup.text)
        assert secret and token_match
        done = await newcomer.post(f"/t/{slug}/login/2fa/setup",
                                   data={"code": pyotp.TOTP(secret.group(1)).now(), "_csrf": token_match.group(1)},
                                   headers={"accept": "text/html"})
        assert done.status_code == 200 and 'data-testid="twofa-continue"' in done.text
        me = await newcomer.get(f"{base}/me")
        assert me.status_code == 200 and me.json()["email"] == "new.op@example.com"


async def test_the_team_and_profile_forms(fx_app: Any, fx_client: Any, fx_shop: ShopFixture) -> None:
    """The HTML forms: the admin sets the policy and resets a user on the Team page; a user turns theirs off on the
    profile with a code."""
    slug = fx_shop.slug
    owner_totp, _ = await _enrol_by_key(fx_client, fx_shop)
    op_id, op_email, op_password = await _add_user(fx_shop, "operator")
    assert (await browser_login(fx_client, slug, fx_shop.email, fx_shop.password)).status_code == 303
    assert (await _second_step(fx_client, slug, _next_code(owner_totp))).status_code == 303
    token = await csrf_from(fx_client, f"/t/{slug}/settings/team")
    saved = await fx_client.post(f"/t/{slug}/settings/team/2fa-policy", data={"policy": "admins", "_csrf": token})
    assert saved.status_code == 200 and 'value="admins" selected' in saved.text
    assert (await fx_client.get(f"/t/{slug}/api/v1/security/2fa-policy",
                                headers=fx_shop.auth)).json() == {"policy": "admins"}

    async with _browser(fx_app) as op:
        # "admins" does not cover an operator: the password signs them in; they turn 2FA on and off themselves.
        assert (await browser_login(op, slug, op_email, op_password)).headers["location"] == f"/t/{slug}/"
        op_token = await csrf_from(op, f"/t/{slug}/profile")
        started = await op.post(f"/t/{slug}/profile/2fa/setup", data={"_csrf": op_token})
        secret = re.search(r'data-secret="([A-Z2-7]+)"', started.text)
        assert started.status_code == 200 and secret and "<svg" in started.text
        op_totp = pyotp.TOTP(secret.group(1))
        on = await op.post(f"/t/{slug}/profile/2fa/confirm", data={"code": op_totp.now(), "_csrf": op_token})
        assert on.status_code == 200 and len(re.findall('data-testid="recovery-code"', on.text)) == 10
        wrong = await op.post(f"/t/{slug}/profile/2fa/disable", data={"code": _wrong_code(op_totp), "_csrf": op_token})
        assert wrong.status_code == 400 and "not right" in wrong.text
        off = await op.post(f"/t/{slug}/profile/2fa/disable", data={"code": _next_code(op_totp), "_csrf": op_token})
        assert off.status_code == 200 and "Two-factor sign-in is off" in off.text
        again = await op.post(f"/t/{slug}/profile/2fa/setup", data={"_csrf": op_token})
        secret = re.search(r'data-secret="([A-Z2-7]+)"', again.text)
        assert secret
        # A new key: the step spent on the old one does not matter.
        assert (await op.post(f"/t/{slug}/profile/2fa/confirm", data={"code": pyotp.TOTP(secret.group(1)).now(),
                                                                       "_csrf": op_token})).status_code == 200

    page = await fx_client.get(f"/t/{slug}/settings/team", headers={"accept": "text/html"})
    assert f'data-testid="twofa-reset-{op_email}"' in page.text
    reset = await fx_client.post(f"/t/{slug}/settings/team/{op_id}/2fa/reset", data={"_csrf": token})
    assert reset.status_code == 200 and f'data-testid="twofa-reset-{op_email}"' not in reset.text
    assert any(e["action"] == "twofa.reset" and e["target_id"] == str(op_id) for e in await _actions(fx_shop))


async def test_one_code_sent_twice_at_once_signs_in_once(fx_app: Any, fx_client: Any, fx_shop: ShopFixture) -> None:
    """Two sign-ins racing with the same code: the authenticator row is locked, so exactly one gets a session."""
    import asyncio

    slug = fx_shop.slug
    totp, _ = await _enrol_by_key(fx_client, fx_shop)
    async with _browser(fx_app) as one, _browser(fx_app) as two:
        tokens = []
        for browser in (one, two):
            assert (await browser_login(browser, slug, fx_shop.email, fx_shop.password)).status_code == 303
            tokens.append(await csrf_from(browser, f"/t/{slug}/login/2fa"))
        code = _next_code(totp)
        answers = await asyncio.gather(*[
            browser.post(f"/t/{slug}/login/2fa", data={"code": code, "_csrf": token}, headers={"accept": "text/html"})
            for browser, token in ((one, tokens[0]), (two, tokens[1]))])
        assert sorted(a.status_code for a in answers) == [303, 401]
        assert [await _has_session(one, slug), await _has_session(two, slug)].count(True) == 1
