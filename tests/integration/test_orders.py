"""Orders through the JSON API: idempotency, validation named by field, money as integers, the pipeline,
concurrency, payments and refunds, timeline and audit, cross-tenant isolation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import ShopFixture


def api(shop: ShopFixture, path: str = "") -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def make_contact(client: Any, shop: ShopFixture, name: str = "Ada Buyer", **extra: Any) -> dict[str, Any]:
    resp = await client.post(api(shop, "/contacts"), json={"name": name, **extra}, headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return resp.json()


def order_body(contact_id: int, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"contact_id": contact_id, "currency": "USD", "items": [
        {"name": "Espresso beans 1kg", "sku": "BEAN-1", "quantity": 2, "unit_price": 1999},
        {"name": "Grinder", "sku": "GR-9", "quantity": 1, "unit_price": 8950},
    ], "shipping": 500, "discount": 448, "delivery_address": "1 Main St, Springfield"}
    body.update(extra)
    return body


async def make_order(client: Any, shop: ShopFixture, contact_id: int, **extra: Any) -> dict[str, Any]:
    resp = await client.post(api(shop, "/orders"), json=order_body(contact_id, **extra), headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return resp.json()




async def test_create_order_totals_items_history(fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    resp = await fx_client.post(api(fx_shop, "/orders"), json=order_body(c["id"], total=1), headers=fx_shop.auth)
    assert resp.status_code == 400 and "unknown field `total`" in resp.json()["detail"]  # never trusted
    order = await make_order(fx_client, fx_shop, c["id"])
    assert (order["subtotal"], order["shipping"], order["discount"], order["total"]) == (12948, 500, 448, 13000)
    assert all(isinstance(order[k], int) for k in ("subtotal", "total", "paid", "refunded", "balance"))
    assert order["status"] == "new" and order["currency"] == "USD" and order["balance"] == 13000
    assert [i["line_total"] for i in order["items"]] == [3998, 8950]
    assert [(h["from_status"], h["to_status"]) for h in order["history"]] == [(None, "new")]
    assert order["number"] == f"SB-{order['id']:06d}"


async def test_same_external_id_twice_is_one_order(fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    body = order_body(c["id"], external_id="shopify-1001", number="1001")
    first = await fx_client.post(api(fx_shop, "/orders"), json=body, headers=fx_shop.auth)
    second = await fx_client.post(api(fx_shop, "/orders"), json=body, headers=fx_shop.auth)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    # and at the same time, from many workers of the shop
    body2 = order_body(c["id"], external_id="shopify-1002")
    answers = await asyncio.gather(*[fx_client.post(api(fx_shop, "/orders"), json=body2, headers=fx_shop.auth)
                                     for _ in range(8)])
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    listed = await fx_client.get(api(fx_shop, "/orders"), params={"contact_id": c["id"]}, headers=fx_shop.auth)
    assert len(listed.json()["items"]) == 2
    timeline = await fx_client.get(api(fx_shop, f"/contacts/{c['id']}/timeline"), params={"channel": "order"},
                                   headers=fx_shop.auth)
    assert sum(i["payload"].get("event") == "created" for i in timeline.json()["items"]) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "XXY"}, "currency"),
        ({"items": []}, "items"),
        ({"items": [{"name": "A", "quantity": 1, "unit_price": 19.99}]}, "items[0].unit_price"),
        ({"items": [{"name": "A", "quantity": 1, "unit_price": "19.99"}]}, "items[0].unit_price"),
        ({"items": [{"name": "A", "quantity": 0, "unit_price": 100}]}, "items[0].quantity"),
        ({"items": [{"name": "A", "quantity": 1, "unit_price": -5}]}, "items[0].unit_price"),
        ({"items": [{"name": " ", "quantity": 1, "unit_price": 5}]}, "items[0].name"),
        ({"shipping": 4.5}, "shipping"),
        ({"discount": 10**9}, "discount"),
        ({"status": "teleported"}, "status"),
        ({"contact_id": 999999}, "contact_id"),
        ({"payments": [{"amount": 10.5}]}, "payments[0].amount"),
    ],
)
async def test_validation_errors_name_the_field(fx_client: Any, fx_shop: ShopFixture, change: dict[str, Any],
                                                field: str) -> None:
    c = await make_contact(fx_client, fx_shop)
    resp = await fx_client.post(api(fx_shop, "/orders"), json={**order_body(c["id"]), **change}, headers=fx_shop.auth)
    assert resp.status_code == 400, resp.text
    assert resp.json()["errors"][0]["field"] == field
    assert (await fx_client.get(api(fx_shop, "/orders"), headers=fx_shop.auth)).json()["items"] == []


async def test_customer_found_or_created_by_email(fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop, emails=["ada@example.com"])
    body = order_body(None, customer={"name": "Ada", "email": "ADA@example.com"})
    del body["contact_id"]
    found = await fx_client.post(api(fx_shop, "/orders"), json=body, headers=fx_shop.auth)
    assert found.json()["contact_id"] == c["id"]
    body["customer"] = {"name": "New Person", "email": "new@example.com"}
    other = (await fx_client.post(api(fx_shop, "/orders"), json=body, headers=fx_shop.auth)).json()
    card = (await fx_client.get(api(fx_shop, f"/contacts/{other['contact_id']}"), headers=fx_shop.auth)).json()
    assert card["emails"] == ["new@example.com"] and card["name"] == "New Person"


async def test_pipeline_rules(fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    order = await make_order(fx_client, fx_shop, c["id"])
    url = api(fx_shop, f"/orders/{order['id']}/status")
    unknown = await fx_client.post(url, json={"status": "teleported"}, headers=fx_shop.auth)
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "status"
    assert unknown.json()["allowed"] == ["paid", "cancelled"]
    assert "paid, cancelled" in unknown.json()["detail"]
    skip = await fx_client.post(url, json={"status": "shipped"}, headers=fx_shop.auth)
    assert skip.status_code == 400 and skip.json()["allowed"] == ["paid", "cancelled"]
    for status in ("paid", "packed", "shipped", "delivered"):
        resp = await fx_client.post(url, json={"status": status}, headers=fx_shop.auth)
        assert resp.status_code == 200, resp.text
    final = await fx_client.post(url, json={"status": "new"}, headers=fx_shop.auth)
    assert final.status_code == 400 and final.json()["allowed"] == ["returned"]
    got = (await fx_client.get(api(fx_shop, f"/orders/{order['id']}"), headers=fx_shop.auth)).json()
    assert [h["to_status"] for h in got["history"]] == ["new", "paid", "packed", "shipped", "delivered"]
    assert got["version"] == 5


async def test_admin_defines_the_pipeline(fx_client: Any, fx_shop: ShopFixture) -> None:
    resp = await fx_client.post(api(fx_shop, "/order-statuses"), json={
        "key": "on_hold", "label": "On hold", "allowed": ["paid", "cancelled", "nope"]}, headers=fx_shop.auth)
    assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "allowed[2]"
    resp = await fx_client.post(api(fx_shop, "/order-statuses"), json={
        "key": "on_hold", "label": "On hold", "allowed": ["paid", "cancelled"]}, headers=fx_shop.auth)
    assert resp.status_code == 201, resp.text
    resp = await fx_client.patch(api(fx_shop, "/order-statuses/new"), json={"allowed": ["paid", "on_hold",
                                                                                        "cancelled"]},
                                 headers=fx_shop.auth)
    assert resp.status_code == 200 and resp.json()["allowed"] == ["paid", "on_hold", "cancelled"]
    keys = [s["key"] for s in (await fx_client.get(api(fx_shop, "/order-statuses"), headers=fx_shop.auth)).json()]
    assert keys == ["new", "paid", "packed", "shipped", "delivered", "cancelled", "returned", "on_hold"]
    c = await make_contact(fx_client, fx_shop)
    order = await make_order(fx_client, fx_shop, c["id"])
    url = api(fx_shop, f"/orders/{order['id']}/status")
    assert (await fx_client.post(url, json={"status": "on_hold"}, headers=fx_shop.auth)).status_code == 200
    assert (await fx_client.post(url, json={"status": "paid"}, headers=fx_shop.auth)).status_code == 200


async def test_concurrent_status_updates_and_payments_are_not_lost(fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    order = await make_order(fx_client, fx_shop, c["id"])
    base = api(fx_shop, f"/orders/{order['id']}")
    calls = [fx_client.post(base + "/status", json={"status": "paid"}, headers=fx_shop.auth) for _ in range(5)]
    calls += [fx_client.post(base + "/status", json={"status": "cancelled"}, headers=fx_shop.auth)]
    calls += [fx_client.post(base + "/payments", json={"amount": 1000, "method": "card"}, headers=fx_shop.auth)
              for _ in range(10)]
    answers = await asyncio.gather(*calls)
    assert all(a.status_code in (200, 400) for a in answers), [a.text for a in answers]
    got = (await fx_client.get(base, headers=fx_shop.auth)).json()
    assert got["paid"] == 10_000 and len(got["payments"]) == 10
    chain = [(h["from_status"], h["to_status"]) for h in got["history"]]
    for (_, prev_to), (nxt_from, _) in zip(chain, chain[1:], strict=False):
        assert prev_to == nxt_from, chain  # every change started from the status the previous one left
    assert got["status"] == chain[-1][1] and len(chain) in (2, 3)
    assert got["version"] == 1 + 10 + (len(chain) - 1)


async def test_stale_version_is_refused(fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    order = await make_order(fx_client, fx_shop, c["id"])
    url = api(fx_shop, f"/orders/{order['id']}")
    ok = await fx_client.patch(url, json={"delivery_address": "2 Elm St", "version": 1}, headers=fx_shop.auth)
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = await fx_client.patch(url, json={"delivery_address": "3 Oak St", "version": 1}, headers=fx_shop.auth)
    assert stale.status_code == 409 and stale.json()["version"] == 2
    stale = await fx_client.post(url + "/status", json={"status": "paid", "version": 1}, headers=fx_shop.auth)
    assert stale.status_code == 409
    items = await fx_client.patch(url, json={"items": [{"name": "Mug", "quantity": 3, "unit_price": 700}]},
                                  headers=fx_shop.auth)
    assert items.json()["subtotal"] == 2100 and items.json()["total"] == 2100 + 500 - 448


async def test_payments_and_refunds_on_timeline_and_audit(fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    order = await make_order(fx_client, fx_shop, c["id"])
    base = api(fx_shop, f"/orders/{order['id']}")
    pay = {"amount": 13000, "method": "card", "external_id": "ch_1"}
    assert (await fx_client.post(base + "/payments", json=pay, headers=fx_shop.auth)).json()["paid"] == 13000
    again = await fx_client.post(base + "/payments", json=pay, headers=fx_shop.auth)
    assert again.json()["paid"] == 13000 and len(again.json()["payments"]) == 1
    too_much = await fx_client.post(base + "/refunds", json={"amount": 13001}, headers=fx_shop.auth)
    assert too_much.status_code == 400 and too_much.json()["errors"][0]["field"] == "amount"
    refund = await fx_client.post(base + "/refunds", json={"amount": 3000, "method": "card"}, headers=fx_shop.auth)
    assert (refund.json()["paid"], refund.json()["refunded"], refund.json()["balance"]) == (13000, 3000, 3000)
    await fx_client.post(base + "/status", json={"status": "paid"}, headers=fx_shop.auth)
    tl = (await fx_client.get(api(fx_shop, f"/contacts/{c['id']}/timeline"), params={"channel": "order"},
                              headers=fx_shop.auth)).json()["items"]
    assert [i["payload"]["event"] for i in tl] == ["status_changed", "refund", "payment_received", "created"]
    assert all(i["links"]["order_id"] == order["id"] for i in tl)
    audit = (await fx_client.get(api(fx_shop, "/audit"), headers=fx_shop.auth)).json()["items"]
    actions = [e["action"] for e in audit if e["target_type"] == "order"]
    assert actions == ["order.status_changed", "order.refund", "order.payment", "order.created"]


async def test_other_tenant_sees_404_everywhere(fx_client: Any, fx_shop: ShopFixture,
                                                fx_other_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    order = await make_order(fx_client, fx_shop, c["id"], external_id="ext-x")
    oid = order["id"]
    other = fx_other_shop
    for method, path, body in [
        ("GET", f"/orders/{oid}", None), ("PATCH", f"/orders/{oid}", {"note": "x"}),
        ("POST", f"/orders/{oid}/status", {"status": "paid"}), ("POST", f"/orders/{oid}/payments", {"amount": 1}),
        ("POST", f"/orders/{oid}/refunds", {"amount": 1}), ("GET", f"/orders/{oid}/portal", None),
        ("POST", f"/orders/{oid}/portal", None), ("DELETE", f"/orders/{oid}/portal", None),
        ("GET", f"/orders/{oid}/messages", None), ("POST", f"/orders/{oid}/messages", {"body": "hi"}),
        ("POST", f"/orders/{oid}/portal/send", {"channel": "email", "to": "a@b.example"}),
        ("GET", f"/contacts/{c['id']}/revenue", None),
    ]:
        resp = await fx_client.request(method, api(other, path), json=body, headers=other.auth)
        assert resp.status_code == 404, (method, path, resp.status_code, resp.text)
        # the other shop's key on this shop's URL: unknown key -> 404 too
        resp = await fx_client.request(method, api(fx_shop, path), json=body, headers=other.auth)
        assert resp.status_code == 404, (method, path, resp.status_code)
    listed = await fx_client.get(api(other, "/orders"), headers=other.auth)
    assert listed.json()["items"] == []
    # the same external id in another shop is another order
    c2 = await make_contact(fx_client, other)
    mine = await make_order(fx_client, other, c2["id"], external_id="ext-x")
    assert mine["contact_id"] == c2["id"]
