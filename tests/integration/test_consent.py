"""Consent: the append-only ledger (API, card panel), the suppression list of hashed addresses, and another shop's
ids -> 404."""

from __future__ import annotations

import hashlib
from typing import Any

from app.lib.db import current_uow, tenant_context
from tests.conftest import ShopFixture, browser_login, csrf_from
from tests.integration.test_orders import api, make_contact


async def test_api_records_and_lists_newest_first_and_opt_out_suppresses_a_hash(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    from app.consent import services

    c = await make_contact(fx_client, fx_shop, phones=["+14155550133"], emails=["Ada.Buyer@Example.com"])
    url = api(fx_shop, f"/contacts/{c['id']}/consent")
    assert (await fx_client.get(url, headers=fx_shop.auth)).json() == []
    first = await fx_client.post(url, json={"channel": "sms", "purpose": "marketing", "status": "opt_in",
                                            "source": "form", "evidence": "checkout form"}, headers=fx_shop.auth)
    assert first.status_code == 201, first.text
    second = await fx_client.post(url, json={"channel": "sms", "purpose": "marketing", "status": "opt_out",
                                             "source": "keyword", "evidence": "STOP"}, headers=fx_shop.auth)
    email_out = await fx_client.post(url, json={"channel": "email", "purpose": "marketing", "status": "opt_out",
                                                "source": "one_click"}, headers=fx_shop.auth)
    assert second.status_code == 201 and email_out.status_code == 201
    ledger = (await fx_client.get(url, headers=fx_shop.auth)).json()
    assert [(e["channel"], e["status"], e["source"]) for e in ledger] == [
        ("email", "opt_out", "one_click"), ("sms", "opt_out", "keyword"), ("sms", "opt_in", "form")]
    assert {"channel", "purpose", "status", "source", "at"} <= set(ledger[0])

    async with tenant_context(fx_shop.tenant):
        assert await services.is_suppressed("sms", "+1 415 555 0133")
        assert await services.is_suppressed("email", "ada.buyer@example.COM")
        assert not await services.is_suppressed("call", "+14155550133")  # calls were not opted out
        assert not await services.is_suppressed("sms", "+14155550199")
        rows = await current_uow().connection.fetch("SELECT address_hash, channel FROM suppression")
    stored = " ".join(r["address_hash"] for r in rows)
    assert len(rows) == 2 and "4155550133" not in stored and "example" not in stored.lower()
    # Salted: the bare sha256 of the address is not what is stored.
    assert hashlib.sha256(b"+14155550133").hexdigest() not in stored

    for body, field in [({"channel": "fax", "purpose": "marketing", "status": "opt_out"}, "channel"),
                        ({"channel": "sms", "purpose": "spam", "status": "opt_out"}, "purpose"),
                        ({"channel": "sms", "purpose": "marketing", "status": "maybe"}, "status"),
                        ({"channel": "sms", "purpose": "marketing", "status": "opt_out", "source": "rumour"}, "source"),
                        ({"channel": "sms", "purpose": "marketing", "status": "opt_out", "evidence": "x" * 2001},
                         "evidence")]:
        bad = await fx_client.post(url, json=body, headers=fx_shop.auth)
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == field, (body, bad.text)

    # An opt-in for marketing (the client asked again) lifts the suppression; the ledger keeps both entries.
    again = await fx_client.post(url, json={"channel": "sms", "purpose": "marketing", "status": "opt_in",
                                            "source": "form", "evidence": "re-subscribed"}, headers=fx_shop.auth)
    assert again.status_code == 201
    async with tenant_context(fx_shop.tenant):
        assert not await services.is_suppressed("sms", "+14155550133")
        assert await services.is_suppressed("email", "ada.buyer@example.com")
    assert len((await fx_client.get(url, headers=fx_shop.auth)).json()) == 4


async def test_the_ledger_has_no_update_or_delete_path(fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop, phones=["+14155550134"])
    url = api(fx_shop, f"/contacts/{c['id']}/consent")
    made = await fx_client.post(url, json={"channel": "call", "purpose": "marketing", "status": "opt_out"},
                                headers=fx_shop.auth)
    assert made.status_code == 201
    for method in ("PUT", "PATCH", "DELETE"):
        resp = await fx_client.request(method, url, headers=fx_shop.auth)
        assert resp.status_code == 405, (method, resp.status_code)
        resp = await fx_client.request(method, f"{url}/{made.json()['id']}", headers=fx_shop.auth)
        assert resp.status_code in (404, 405), (method, resp.status_code)
    assert len((await fx_client.get(url, headers=fx_shop.auth)).json()) == 1


async def test_the_card_panel_shows_the_ledger_and_records_an_operator_opt_out(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    from app.consent import services

    c = await make_contact(fx_client, fx_shop, name="Card Consent", phones=["+14155550135"])
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    base = f"/t/{fx_shop.slug}"
    card = await fx_client.get(f"{base}/contacts/{c['id']}", headers={"accept": "text/html"})
    assert 'data-testid="card-consent-loader"' in card.text
    panel = await fx_client.get(f"{base}/contacts/{c['id']}/consent/", headers={"accept": "text/html"})
    assert panel.status_code == 200 and 'data-testid="consent-empty"' in panel.text
    token = await csrf_from(fx_client, f"{base}/contacts/{c['id']}")
    htmx = {"X-CSRF-Token": token, "HX-Request": "true", "accept": "text/html"}
    bad = await fx_client.post(f"{base}/contacts/{c['id']}/consent/", headers=htmx,
                               data={"channel": "pigeon", "purpose": "marketing", "status": "opt_out"})
    assert bad.status_code == 400 and "channel must be one of" in bad.text
    made = await fx_client.post(f"{base}/contacts/{c['id']}/consent/", headers=htmx, data={
        "channel": "sms", "purpose": "marketing", "status": "opt_out", "evidence": "Said on the call: no more offers"})
    assert made.status_code == 200 and 'data-status="opt_out"' in made.text
    assert "Said on the call: no more offers" in made.text
    entries = (await fx_client.get(api(fx_shop, f"/contacts/{c['id']}/consent"), headers=fx_shop.auth)).json()
    assert [(e["source"], e["status"], e["recorded_by_id"]) for e in entries] == [
        ("operator", "opt_out", fx_shop.user_id)]
    async with tenant_context(fx_shop.tenant):
        assert await services.is_suppressed("sms", "+14155550135")


async def test_another_shops_contact_is_404_and_its_suppression_is_its_own(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    from app.consent import services

    c = await make_contact(fx_client, fx_shop, phones=["+14155550136"])
    url = api(fx_shop, f"/contacts/{c['id']}/consent")
    assert (await fx_client.post(url, json={"channel": "sms", "purpose": "marketing", "status": "opt_out"},
                                 headers=fx_shop.auth)).status_code == 201
    foreign = api(fx_other_shop, f"/contacts/{c['id']}/consent")
    assert (await fx_client.get(foreign, headers=fx_other_shop.auth)).status_code == 404
    assert (await fx_client.post(foreign, json={"channel": "sms", "purpose": "marketing", "status": "opt_in"},
                                 headers=fx_other_shop.auth)).status_code == 404
    # Another shop's key on this shop's URL: refused, and nothing is shown.
    cross = await fx_client.get(url, headers=fx_other_shop.auth)
    assert cross.status_code in (401, 403, 404) and "opt_out" not in cross.text
    async with tenant_context(fx_other_shop.tenant):
        assert not await services.is_suppressed("sms", "+14155550136")
    async with tenant_context(fx_shop.tenant):
        assert await services.is_suppressed("sms", "+14155550136")


async def test_the_demo_shop_has_a_client_with_a_consent_story(fx_client: Any, fx_db: str) -> None:
    from app import demo
    from app.consent import services
    from app.lib.db import resolve_active

    await demo.ensure_demo()
    tenant = await resolve_active(demo.DEMO_SLUG)
    assert tenant is not None
    async with tenant_context(tenant):
        conn = current_uow().connection
        contact_id = await conn.fetchval("SELECT contact FROM consent_entry ORDER BY id LIMIT 1")
        ledger = await services.ledger(contact_id)
        email = await conn.fetchval("SELECT email FROM contact_email WHERE contact = $1 LIMIT 1", contact_id)
        assert await services.is_suppressed("email", email)
    assert [(e["channel"], e["status"]) for e in ledger] == [("email", "opt_out"), ("sms", "opt_in")]


async def test_a_merge_moves_the_ledger_and_the_legal_hold_to_the_survivor(fx_client: Any,
                                                                           fx_shop: ShopFixture) -> None:
    keep = await make_contact(fx_client, fx_shop, name="Survivor", phones=["+14155550141"])
    gone = await make_contact(fx_client, fx_shop, name="Merged Away", phones=["+14155550142"])
    assert (await fx_client.post(api(fx_shop, f"/contacts/{gone['id']}/consent"), json={
        "channel": "sms", "purpose": "marketing", "status": "opt_out"}, headers=fx_shop.auth)).status_code == 201
    assert (await fx_client.put(api(fx_shop, f"/contacts/{gone['id']}/legal-hold"), json={"reason": "Audit"},
                                headers=fx_shop.auth)).status_code == 200
    merged = await fx_client.post(api(fx_shop, f"/contacts/{keep['id']}/merge"), json={"other_id": gone["id"]},
                                  headers=fx_shop.auth)
    assert merged.status_code == 200, merged.text
    ledger = (await fx_client.get(api(fx_shop, f"/contacts/{keep['id']}/consent"), headers=fx_shop.auth)).json()
    assert [(e["channel"], e["status"]) for e in ledger] == [("sms", "opt_out")]
    hold = (await fx_client.get(api(fx_shop, f"/contacts/{keep['id']}/legal-hold"), headers=fx_shop.auth)).json()
    assert hold["held"] is True and hold["reason"] == "Audit"
    assert (await fx_client.post(api(fx_shop, f"/contacts/{keep['id']}/erase"),
                                 headers=fx_shop.auth)).status_code == 409
