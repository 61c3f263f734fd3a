"""Erasure: after it, no personal value of the contact is left in any text column of any table of the tenant's
schema, nor in storage; orders keep their amounts; the suppression list still holds the hashes; a legal hold
refuses with 409 and changes nothing; admins only; audited; another shop's ids -> 404."""

from __future__ import annotations

from typing import Any

from app.lib.db import current_uow, tenant_context
from app.lib.storage import LocalStorage, get_storage
from tests.conftest import ShopFixture, browser_login, csrf_from
from tests.integration.privacy_kit import find_anywhere, seed_everything
from tests.integration.test_orders import api, make_contact
from tests.integration.test_privacy_export import run_export


async def _storage_holds(shop: ShopFixture, needle: bytes) -> list[str]:
    """Objects of the tenant in a local storage backend whose bytes contain `needle` (the raw disk, not our index)."""
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        return []
    root = storage.root / shop.tenant.schema
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()] if root.exists() else []


async def test_erasure_leaves_no_personal_value_anywhere_and_keeps_the_business_record(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    from app.consent import services as consent

    seeded = await seed_everything(fx_client, fx_shop)
    cid = seeded.contact_id
    # An export made before the erasure holds the same data: it must go too.
    export = (await fx_client.post(api(fx_shop, f"/contacts/{cid}/export"), headers=fx_shop.auth)).json()
    assert (await run_export(fx_client, fx_shop, export["id"]))["status"] == "done"
    for what, value in seeded.values.items():  # the seed reached the database (else the test proves nothing)
        assert await find_anywhere(fx_shop, value), f"{what} was never stored"
    for name, data in seeded.blobs.items():
        assert await _storage_holds(fx_shop, data) or not isinstance(get_storage(), LocalStorage), name

    resp = await fx_client.post(api(fx_shop, f"/contacts/{cid}/erase"), headers=fx_shop.auth)
    assert resp.status_code == 200, resp.text
    req = resp.json()
    assert (req["kind"], req["status"], req["requested_by_id"]) == ("erase", "done", fx_shop.user_id)
    assert req["detail"]["files"] == 4 and req["detail"]["suppressed"] >= 3

    leftovers = {what: await find_anywhere(fx_shop, value) for what, value in seeded.values.items()}
    assert not any(leftovers.values()), leftovers
    async with tenant_context(fx_shop.tenant):
        storage = get_storage()
        for name, key in seeded.keys.items():
            assert not await storage.exists(key), f"{name} still in storage"
        conn = current_uow().connection
        assert await conn.fetchval("SELECT storage_key FROM privacy_request WHERE id = $1", export["id"]) == ""
        assert await conn.fetchval("SELECT sum(length(content)) FROM inbound_mail") == 0
        order = await conn.fetchrow("SELECT total, paid, contact, delivery_address FROM shop_order WHERE id = $1",
                                    seeded.order_id)
        items = await conn.fetchval("SELECT count(*) FROM order_item WHERE shop_order = $1", seeded.order_id)
        payments = await conn.fetch("SELECT amount FROM order_payment WHERE shop_order = $1", seeded.order_id)
        card = await conn.fetchrow("SELECT name, address FROM contact WHERE id = $1", cid)
        assert await consent.is_suppressed("sms", seeded.values["phone"])
        assert await consent.is_suppressed("call", seeded.values["phone"])
        assert await consent.is_suppressed("email", seeded.values["email"])
        actions = [r["action"] for r in await conn.fetch(
            "SELECT action FROM audit_entry WHERE target_type = 'contact' AND target_id = $1", str(cid))]
    for name, data in seeded.blobs.items():
        assert not await _storage_holds(fx_shop, data), f"{name} bytes still on disk"
    assert order["total"] > 0 and order["paid"] == 1500 and order["contact"] == cid and order["delivery_address"] == ""
    assert items == 2 and [p["amount"] for p in payments] == [1500]
    assert card["name"] == f"Erased contact #{cid}" and card["address"] == ""
    assert "privacy.erased" in actions
    # The API still answers for the tombstone; a second erasure is refused.
    again = await fx_client.post(api(fx_shop, f"/contacts/{cid}/erase"), headers=fx_shop.auth)
    assert again.status_code == 409
    log = (await fx_client.get(api(fx_shop, "/privacy/requests"), headers=fx_shop.auth)).json()
    assert [r["kind"] for r in log] == ["erase", "export"]


async def test_a_legal_hold_refuses_erasure_with_409_and_changes_nothing(fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop, name="Held Person", phones=["+14155550188"])
    hold_url = api(fx_shop, f"/contacts/{c['id']}/legal-hold")
    assert (await fx_client.get(hold_url, headers=fx_shop.auth)).json()["held"] is False
    bad = await fx_client.put(hold_url, json={"reason": "  "}, headers=fx_shop.auth)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "reason"
    held = await fx_client.put(hold_url, json={"reason": "Court order 42/2026"}, headers=fx_shop.auth)
    assert held.status_code == 200 and held.json()["held"] is True
    refused = await fx_client.post(api(fx_shop, f"/contacts/{c['id']}/erase"), headers=fx_shop.auth)
    assert refused.status_code == 409 and "legal hold" in refused.json()["detail"]
    assert "Court order 42/2026" in refused.json()["detail"]
    card = (await fx_client.get(api(fx_shop, f"/contacts/{c['id']}"), headers=fx_shop.auth)).json()
    assert card["name"] == "Held Person" and card["phones"] == ["+14155550188"]
    assert (await fx_client.get(api(fx_shop, "/privacy/requests"), headers=fx_shop.auth)).json() == []
    async with tenant_context(fx_shop.tenant):
        from app.consent import services as consent

        assert not await consent.is_suppressed("sms", "+14155550188")
    released = await fx_client.post(f"{hold_url}/release", json={"reason": "Case closed"}, headers=fx_shop.auth)
    assert released.status_code == 200 and released.json()["held"] is False
    erased = await fx_client.post(api(fx_shop, f"/contacts/{c['id']}/erase"), headers=fx_shop.auth)
    assert erased.status_code == 200
    async with tenant_context(fx_shop.tenant):
        audit = await current_uow().connection.fetch(
            "SELECT action, detail->>'reason' AS reason FROM audit_entry WHERE target_type = 'contact' "
            "AND target_id = $1 AND action LIKE 'privacy.%' ORDER BY id", str(c["id"]))
    assert [(a["action"], a["reason"]) for a in audit] == [
        ("privacy.hold_set", "Court order 42/2026"), ("privacy.hold_cleared", "Case closed"), ("privacy.erased", None)]


async def test_a_namesake_keeps_their_data(fx_client: Any, fx_shop: ShopFixture) -> None:
    first = await make_contact(fx_client, fx_shop, name="Ivan Namesake", phones=["+14155550191"])
    second = await make_contact(fx_client, fx_shop, name="Ivan Namesake", phones=["+14155550192"])
    assert (await fx_client.post(api(fx_shop, f"/contacts/{first['id']}/erase"),
                                 headers=fx_shop.auth)).status_code == 200
    other = (await fx_client.get(api(fx_shop, f"/contacts/{second['id']}"), headers=fx_shop.auth)).json()
    assert other["name"] == "Ivan Namesake" and other["phones"] == ["+14155550192"]


async def test_operators_and_supervisors_cannot_erase_and_the_card_panel_confirms(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop, name="Panel Erase", phones=["+14155550193"])
    # Another shop: its key on its own slug with this id, and on this slug.
    for url in (api(fx_other_shop, f"/contacts/{c['id']}/erase"), api(fx_other_shop, f"/contacts/{c['id']}/export")):
        assert (await fx_client.post(url, headers=fx_other_shop.auth)).status_code == 404
    assert (await fx_client.put(api(fx_other_shop, f"/contacts/{c['id']}/legal-hold"), json={"reason": "x"},
                                headers=fx_other_shop.auth)).status_code == 404
    assert (await fx_client.post(api(fx_shop, f"/contacts/{c['id']}/erase"),
                                 headers=fx_other_shop.auth)).status_code in (401, 403, 404)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    base = f"/t/{fx_shop.slug}"
    token = await csrf_from(fx_client, f"{base}/contacts/{c['id']}")
    htmx = {"X-CSRF-Token": token, "HX-Request": "true", "accept": "text/html"}
    panel = await fx_client.get(f"{base}/contacts/{c['id']}/privacy/", headers={"accept": "text/html"})
    assert panel.status_code == 200 and 'data-testid="privacy-erase"' in panel.text
    wrong = await fx_client.post(f"{base}/contacts/{c['id']}/privacy/erase", data={"confirm": "0"}, headers=htmx)
    assert wrong.status_code == 400 and "to confirm" in wrong.text
    held = await fx_client.post(f"{base}/contacts/{c['id']}/privacy/hold", data={"reason": "Dispute"}, headers=htmx)
    assert held.status_code == 200 and 'data-testid="legal-hold"' in held.text and "Dispute" in held.text
    blocked = await fx_client.post(f"{base}/contacts/{c['id']}/privacy/erase", data={"confirm": str(c["id"])},
                                   headers=htmx)
    assert blocked.status_code == 409
    lifted = await fx_client.post(f"{base}/contacts/{c['id']}/privacy/hold/release", data={"reason": "Settled"},
                                  headers=htmx)
    assert lifted.status_code == 200 and 'data-testid="legal-hold"' not in lifted.text
    done = await fx_client.post(f"{base}/contacts/{c['id']}/privacy/erase", data={"confirm": str(c["id"])},
                                headers=htmx)
    assert done.status_code == 200 and 'data-status="done"' in done.text
    card = (await fx_client.get(api(fx_shop, f"/contacts/{c['id']}"), headers=fx_shop.auth)).json()
    assert card["name"] == f"Erased contact #{c['id']}" and card["phones"] == []
