"""Revenue on the card and in contact lists: payments minus refunds, order count, average order value, last purchase."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.conftest import ShopFixture, browser_login
from tests.integration.test_orders import api, make_contact, make_order


async def _pay(client: Any, shop: ShopFixture, order_id: int, amount: int, kind: str = "payments") -> None:
    resp = await client.post(api(shop, f"/orders/{order_id}/{kind}"), json={"amount": amount, "method": "card"},
                             headers=shop.auth)
    assert resp.status_code == 200, resp.text


async def test_revenue_figures_match_orders_and_payments_after_refunds(fx_client: Any, fx_shop: ShopFixture) -> None:
    ada = await make_contact(fx_client, fx_shop, "Ada")
    bob = await make_contact(fx_client, fx_shop, "Bob")
    await make_contact(fx_client, fx_shop, "Cyd (never bought)")
    day = dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC)
    o1 = await make_order(fx_client, fx_shop, ada["id"], placed_at=day.isoformat())                 # total 13000
    o2 = await make_order(fx_client, fx_shop, ada["id"], placed_at=(day + dt.timedelta(days=5)).isoformat())
    o3 = await make_order(fx_client, fx_shop, ada["id"], placed_at=(day + dt.timedelta(days=9)).isoformat())
    await _pay(fx_client, fx_shop, o1["id"], 13000)
    await _pay(fx_client, fx_shop, o2["id"], 13000)
    await _pay(fx_client, fx_shop, o2["id"], 2500, "refunds")
    await _pay(fx_client, fx_shop, o3["id"], 13000)
    await _pay(fx_client, fx_shop, o3["id"], 13000, "refunds")       # fully refunded and then cancelled
    await fx_client.post(api(fx_shop, f"/orders/{o3['id']}/status"), json={"status": "cancelled"}, headers=fx_shop.auth)
    ob = await make_order(fx_client, fx_shop, bob["id"], items=[{"name": "Mug", "quantity": 1, "unit_price": 900}],
                          shipping=0, discount=0)
    await _pay(fx_client, fx_shop, ob["id"], 900)
    eur = await make_order(fx_client, fx_shop, bob["id"], currency="EUR",
                           items=[{"name": "Tee", "quantity": 2, "unit_price": 1500}], shipping=0, discount=0)
    await _pay(fx_client, fx_shop, eur["id"], 3000)

    figures = (await fx_client.get(api(fx_shop, f"/contacts/{ada['id']}/revenue"), headers=fx_shop.auth)).json()
    assert figures == [{"currency": "USD", "revenue": 13000 + 13000 - 2500, "orders": 2,
                        "average_order_value": (13000 + 13000 - 2500) // 2,
                        "last_purchase_at": (day + dt.timedelta(days=5)).isoformat().replace("+00:00", "Z")}]
    bobs = (await fx_client.get(api(fx_shop, f"/contacts/{bob['id']}/revenue"), headers=fx_shop.auth)).json()
    assert {(r["currency"], r["revenue"], r["orders"]) for r in bobs} == {("USD", 900, 1), ("EUR", 3000, 1)}

    async def ids(**params: Any) -> list[int]:
        resp = await fx_client.get(api(fx_shop, "/contacts"), params=params, headers=fx_shop.auth)
        assert resp.status_code == 200, resp.text
        return [c["id"] for c in resp.json()["items"]]

    assert (await ids(sort="revenue"))[:2] == [ada["id"], bob["id"]]
    assert await ids(min_revenue=20000) == [ada["id"]]
    assert set(await ids(min_revenue=1)) == {ada["id"], bob["id"]}
    assert set(await ids(min_orders=2, sort="orders")) == {ada["id"], bob["id"]}  # the cancelled one is not counted
    assert await ids(min_orders=3) == []
    assert (await ids(sort="last_purchase"))[:2] == [bob["id"], ada["id"]]

    # the card shows the same figures
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    panel = await fx_client.get(f"/t/{fx_shop.slug}/contacts/{ada['id']}/orders-panel")
    assert panel.status_code == 200
    assert "$235.00" in panel.text and "$117.50" in panel.text and "Oct 6, 2026" in panel.text  # en-US formats
    assert panel.text.count('data-testid="order-row"') == 3
    card = await fx_client.get(f"/t/{fx_shop.slug}/contacts/{ada['id']}")
    assert f"/contacts/{ada['id']}/orders-panel" in card.text


async def test_merge_moves_orders_and_revenue_to_the_survivor(fx_client: Any, fx_shop: ShopFixture) -> None:
    keep = await make_contact(fx_client, fx_shop, "Keeper")
    gone = await make_contact(fx_client, fx_shop, "Goner")
    order = await make_order(fx_client, fx_shop, gone["id"])
    await _pay(fx_client, fx_shop, order["id"], 5000)
    deal = await fx_client.post(api(fx_shop, "/deals"), json={"title": "Big one", "contact_id": gone["id"],
                                                               "currency": "USD", "value": 100}, headers=fx_shop.auth)
    merged = await fx_client.post(api(fx_shop, f"/contacts/{keep['id']}/merge"), json={"other_id": gone["id"]},
                                  headers=fx_shop.auth)
    assert merged.status_code == 200, merged.text
    assert merged.json()["moved"]["orders"] == 1 and merged.json()["moved"]["deals"] == 1
    got = (await fx_client.get(api(fx_shop, f"/orders/{order['id']}"), headers=fx_shop.auth)).json()
    assert got["contact_id"] == keep["id"]
    figures = (await fx_client.get(api(fx_shop, f"/contacts/{keep['id']}/revenue"), headers=fx_shop.auth)).json()
    assert figures[0]["revenue"] == 5000 and figures[0]["orders"] == 1
    moved = (await fx_client.get(api(fx_shop, f"/deals/{deal.json()['id']}"), headers=fx_shop.auth)).json()
    assert moved["contact_id"] == keep["id"]
