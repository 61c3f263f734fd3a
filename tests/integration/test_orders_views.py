"""Operator pages of orders: create from the card (prices typed as 19.99, exact), the order page's forms for
status, payments, refunds, portal link and replies, and the orders list."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import CSRF_RE, ShopFixture, browser_login
from tests.integration.test_orders import api, make_contact, make_order


async def test_card_and_order_page_forms(fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop, "Vera Visitor", emails=["vera@example.com"])
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    base = f"/t/{fx_shop.slug}"
    panel = await fx_client.get(f"{base}/contacts/{c['id']}/orders-panel")
    csrf = CSRF_RE.search(panel.text).group(1)  # type: ignore[union-attr]
    bad = await fx_client.post(f"{base}/contacts/{c['id']}/orders", headers={"hx-request": "true"}, data={
        "_csrf": csrf, "currency": "USD", "item_name": ["Tea"], "item_sku": [""], "item_qty": ["1"],
        "item_price": ["1.999"]})
    assert bad.status_code == 400 and "more decimals than USD allows" in bad.text
    made = await fx_client.post(f"{base}/contacts/{c['id']}/orders", headers={"hx-request": "true"}, data={
        "_csrf": csrf, "currency": "USD", "item_name": ["Tea", "Cup", ""], "item_sku": ["T1", "", ""],
        "item_qty": ["3", "1", "1"], "item_price": ["0.10", "19.99", ""], "shipping": "4,50",
        "delivery_address": "5 Rose Lane"})
    assert made.status_code == 200 and "$24.79" in made.text  # 0.30 + 19.99 + 4.50, exactly
    order = (await fx_client.get(api(fx_shop, "/orders"), params={"contact_id": c["id"]},
                                 headers=fx_shop.auth)).json()["items"][0]
    assert (order["subtotal"], order["shipping"], order["total"]) == (2029, 450, 2479)
    page_url = f"{base}/orders/{order['id']}"
    page = await fx_client.get(page_url)
    assert page.status_code == 200 and "Tea" in page.text and 'value="paid"' in page.text

    async def post(path: str, **data: Any) -> Any:
        return await fx_client.post(f"{page_url}/{path}", data={"_csrf": csrf, **data})

    assert (await post("status", status="paid", version=str(order["version"]))).status_code == 303
    stale = await post("status", status="packed", version=str(order["version"]))
    assert stale.status_code == 409 and "changed by someone else" in stale.text
    assert (await post("money", kind="payment", amount="24.79", method="card")).status_code == 303
    assert (await post("money", kind="refund", amount="4,79", method="card")).status_code == 303
    too_much = await post("money", kind="refund", amount="100")
    assert too_much.status_code == 400 and "more than was paid" in too_much.text
    assert (await post("portal", action="issue")).status_code == 303
    shown = await fx_client.get(page_url)
    link = re.search(r'data-testid="portal-url"[^>]*>([^<]+)<', shown.text) or re.search(
        r'href="(http://testserver\.local/t/[^"]+/portal/[^"]+)"', shown.text)
    assert link and "$20.00" in shown.text  # paid net of refunds
    assert (await post("messages", body="Thanks for your order!")).status_code == 303
    assert "Thanks for your order!" in (await fx_client.get(page_url)).text
    assert (await post("portal", action="revoke")).status_code == 303
    assert 'data-testid="issue-portal"' in (await fx_client.get(page_url)).text
    listing = await fx_client.get(f"{base}/orders/", params={"status": "paid"})
    assert order["number"] in listing.text and "Vera Visitor" in listing.text
    assert order["number"] not in (await fx_client.get(f"{base}/orders/", params={"status": "shipped"})).text


async def test_operator_edits_items_shipping_discount_and_address_on_the_order_page(fx_client: Any,
                                                                                    fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop, "Edda Editor")
    order = await make_order(fx_client, fx_shop, c["id"])
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page_url = f"/t/{fx_shop.slug}/orders/{order['id']}"
    page = await fx_client.get(page_url)
    assert 'data-testid="edit-order-form"' in page.text
    first = order["items"][0]
    assert f'value="{first["name"]}"' in page.text and f'name="version" value="{order["version"]}"' in page.text
    csrf = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
    form = {"_csrf": csrf, "version": str(order["version"]), "item_name": ["Tea", "Cup", ""],
            "item_sku": ["T1", "C1", ""], "item_qty": ["2", "1", "1"], "item_price": ["1.50", "10", ""],
            "shipping": "4,50", "discount": "1", "delivery_address": "7 Elm Street", "note": "Leave at the door"}
    bad = await fx_client.post(f"{page_url}/edit", data={**form, "item_qty": ["two", "1", "1"]})
    assert bad.status_code == 400 and "items[0].quantity" in bad.text
    saved = await fx_client.post(f"{page_url}/edit", data=form)
    assert saved.status_code == 303 and "notice=Order" in saved.headers["location"]
    edited = (await fx_client.get(api(fx_shop, f"/orders/{order['id']}"), headers=fx_shop.auth)).json()
    assert [(i["name"], i["quantity"], i["unit_price"]) for i in edited["items"]] == [("Tea", 2, 150), ("Cup", 1, 1000)]
    assert (edited["shipping"], edited["discount"], edited["total"]) == (450, 100, 300 + 1000 + 450 - 100)
    assert edited["delivery_address"] == "7 Elm Street" and edited["note"] == "Leave at the door"
    stale = await fx_client.post(f"{page_url}/edit", data=form)  # the version the page had is gone now
    assert stale.status_code == 409 and "changed by someone else" in stale.text
    shown = await fx_client.get(page_url)
    assert 'value="1.50"' in shown.text and 'value="4.50"' in shown.text and "$16.50" in shown.text
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{c['id']}/timeline"), headers=fx_shop.auth)).json()
    assert any("edited" in i["summary"] and "items" in i["summary"] for i in timeline["items"])
