"""The security console: rejected inbound requests recorded with their reason through the real endpoints (Twilio
webhooks signed by the simulator, the chat widget), capped per source and minute, shown to admins only."""

from __future__ import annotations

import datetime as dt
import email.utils
import secrets
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from app.accounts.services import create_session
from app.accounts.tables import User
from app.lib.db import tenant_context
from app.security import rejections
from telephony.simulator import Simulator
from tests.conftest import ShopFixture
from tests.integration.telephony_kit import CUSTOMER, Line, connect, sim_fixture, webhooks  # noqa: F401

SITE = "https://shop.example"


def _voice(line: Line, sid: str | None = None) -> dict[str, str]:
    return {"CallSid": sid or "CA" + secrets.token_hex(16), "AccountSid": line.account_sid, "From": CUSTOMER,
            "To": line.number, "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}


async def _listed(client: Any, shop: ShopFixture, **query: str) -> list[dict[str, Any]]:
    resp = await client.get(f"/t/{shop.slug}/api/v1/security/rejections", params=query, headers=shop.auth)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


async def test_each_refused_webhook_and_chat_call_is_listed_with_its_reason(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    other = await connect(fx_client, fx_other_shop, fx_sim)
    url = line.url("voice")
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)

    # Missing and wrong signatures.
    params = _voice(line)
    assert (await fx_client.post(url, data=params)).status_code == 403
    wrong = RequestValidator(secrets.token_hex(16)).compute_signature(url, params)
    assert (await fx_client.post(url, data=params, headers={"X-Twilio-Signature": wrong})).status_code == 403
    # Another shop's Twilio account signs a request to this shop's URL (the simulator signs with B's token).
    foreign = {**_voice(other), "To": line.number}
    assert (await fx_sim.post(other.account_sid, url, foreign)).status_code == 403
    # A signed request: accepted, and its immediate redelivery too (Twilio retries; processing is deduplicated).
    good = _voice(line)
    assert (await fx_sim.post(line.account_sid, url, good)).status_code == 200
    assert (await fx_sim.post(line.account_sid, url, good)).status_code == 200
    # The same request replayed after the redelivery window.
    async with tenant_context(fx_shop.tenant) as uow:
        await uow.connection.execute("UPDATE security_seen_request SET first_at = now() - interval '10 minutes'")
    assert (await fx_sim.post(line.account_sid, url, good)).status_code == 403
    # A status callback whose signed Timestamp is two days old.
    old = email.utils.format_datetime(dt.datetime.now(dt.UTC) - dt.timedelta(days=2), usegmt=True)
    status = {**_voice(line, good["CallSid"]), "CallStatus": "completed", "SequenceNumber": "3", "Timestamp": old,
              "CallDuration": "5"}
    assert (await fx_sim.post(line.account_sid, line.url("status"), status)).status_code == 403
    # A chat call from a site that is not in the shop's list.
    assert (await fx_client.put(f"/t/{fx_shop.slug}/api/v1/chat/settings", json={"allowed_origins": [SITE]},
                                headers=fx_shop.auth)).status_code == 200
    evil = await fx_client.post(f"/t/{fx_shop.slug}/chat/sessions", json={}, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403

    items = await _listed(fx_client, fx_shop, since=started.isoformat())
    reasons = [i["reason"] for i in reversed(items)]
    assert reasons == [rejections.MISSING_SIGNATURE, rejections.BAD_SIGNATURE, rejections.FOREIGN_SIGNATURE,
                       rejections.REPLAYED, rejections.STALE, rejections.FOREIGN_ORIGIN]
    by_reason = {i["reason"]: i for i in items}
    assert by_reason[rejections.FOREIGN_SIGNATURE]["detail"] == f"AccountSid {other.account_sid}"
    assert by_reason[rejections.REPLAYED]["path"] == f"/t/{fx_shop.slug}/webhooks/twilio/voice"
    assert by_reason[rejections.FOREIGN_ORIGIN]["detail"] == "Origin https://evil.example"
    assert all(i["source"] == "127.0.0.1" for i in items)
    # Only the accepted request was stored for processing; the refused ones left nothing but their record.
    assert [w["params"]["CallSid"] for w in await webhooks(fx_shop)] == [good["CallSid"]]
    # `since` filters; counts per day add up; the other shop saw nothing of it.
    assert await _listed(fx_client, fx_shop, since=(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat()) \
        == []
    per_day = (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/security/rejections",
                                   headers=fx_shop.auth)).json()["per_day"]
    assert sum(d["count"] for d in per_day) == 6
    assert await _listed(fx_client, fx_other_shop) == []


async def test_the_page_shows_admins_the_counts_and_refuses_operators_and_other_shops(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    async with tenant_context(fx_shop.tenant):
        await rejections.record(rejections.BAD_SIGNATURE, source="198.51.100.7", path="/t/x/webhooks/twilio/voice")
        owner, _ = await create_session(fx_shop.user_id)
        rows = await User.insert(User(email=f"op@{fx_shop.slug}.example", name="Op", role="operator")).returning(
            User.id)
        operator, _ = await create_session(rows[0]["id"])
    page = await fx_client.get(f"/t/{fx_shop.slug}/settings/security/", headers={"cookie": f"sb_session={owner}"})
    assert page.status_code == 200
    assert 'data-testid="nav-security"' in page.text and "198.51.100.7" in page.text
    assert 'data-reason="bad_signature"' in page.text and "Wrong Twilio signature" in page.text
    for path in ("/settings/security/", "/api/v1/security/rejections"):
        refused = await fx_client.get(f"/t/{fx_shop.slug}{path}", headers={"cookie": f"sb_session={operator}"})
        assert refused.status_code == 403 and "198.51.100.7" not in refused.text
        foreign = await fx_client.get(f"/t/{fx_shop.slug}{path}", headers=fx_other_shop.auth)
        assert foreign.status_code == 404 and "198.51.100.7" not in foreign.text
    other_page = await fx_client.get(f"/t/{fx_other_shop.slug}/api/v1/security/rejections", headers=fx_other_shop.auth)
    assert other_page.json() == {"items": [], "per_day": []}


async def test_record_caps_rows_per_reason_source_and_minute_and_counts_the_rest(fx_shop: ShopFixture) -> None:
    async with tenant_context(fx_shop.tenant):
        for _ in range(rejections.CAP_PER_MINUTE + 5):
            await rejections.record(rejections.BAD_SIGNATURE, source="203.0.113.9", path="/x", detail="flood")
        await rejections.record(rejections.BAD_SIGNATURE, source="203.0.113.10", path="/x")
    async with tenant_context(fx_shop.tenant) as uow:
        rows = await uow.connection.fetch("SELECT source, count(*) AS n FROM security_rejection GROUP BY source")
        minutes = await uow.connection.fetch(
            "SELECT source, recorded, dropped FROM security_rejection_minute ORDER BY source")
    assert {r["source"]: r["n"] for r in rows} == {"203.0.113.9": rejections.CAP_PER_MINUTE, "203.0.113.10": 1}
    by_source: dict[str, Any] = {m["source"]: (m["recorded"], m["dropped"]) for m in minutes}
    assert by_source == {"203.0.113.9": (rejections.CAP_PER_MINUTE, 5), "203.0.113.10": (1, 0)}


async def test_record_never_raises_into_the_caller(fx_shop: ShopFixture) -> None:
    """A write that fails (no tenant selected; the table missing) is logged, never raised: the caller's 403 stands,
    and its unit of work goes on."""
    await rejections.record(rejections.BAD_SIGNATURE, source="x", path="/x")

    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        async with tenant_context(fx_shop.tenant) as uow:
            await uow.connection.execute("DROP TABLE security_rejection_minute CASCADE")
            await rejections.record(rejections.BAD_SIGNATURE, source="x", path="/x")
            assert await uow.connection.fetchval("SELECT 1") == 1  # the failed write was undone in its savepoint
            raise Undo  # and the DROP with it
    async with tenant_context(fx_shop.tenant) as uow:
        assert await uow.connection.fetchval("SELECT count(*) FROM security_rejection_minute") == 0


async def test_the_demo_shop_has_a_few_rejections_once(fx_client: Any, fx_shop: ShopFixture) -> None:
    from app import demo

    assert await demo.ensure_demo_security(fx_shop.slug) is True
    assert await demo.ensure_demo_security(fx_shop.slug) is False  # once
    body = (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/security/rejections", headers=fx_shop.auth)).json()
    assert {i["reason"] for i in body["items"]} == {rejections.BAD_SIGNATURE, rejections.FOREIGN_SIGNATURE,
                                                    rejections.REPLAYED, rejections.FOREIGN_ORIGIN}
    assert sum(d["count"] for d in body["per_day"]) == len(body["items"]) == 7


async def test_rejections_older_than_the_keeping_time_are_forgotten(fx_shop: ShopFixture) -> None:
    async with tenant_context(fx_shop.tenant) as uow:
        await rejections.record(rejections.BAD_SIGNATURE, source="192.0.2.1", path="/old")
        await uow.connection.execute("UPDATE security_rejection SET at = now() - interval '91 days'")
        await uow.connection.execute("UPDATE security_rejection_minute SET minute = minute - interval '91 days'")
        await rejections.record(rejections.BAD_SIGNATURE, source="192.0.2.1", path="/new")
        paths = [r["path"] for r in await uow.connection.fetch("SELECT path FROM security_rejection")]
        minutes = await uow.connection.fetchval("SELECT count(*) FROM security_rejection_minute")
    assert paths == ["/new"] and minutes == 1
