"""The operator's order page is live: a status change or payment by the API shows on every open page of that
order over the console websocket (watching `order:{id}`), and the page asks to watch it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import ShopFixture, browser_login
from tests.integration.test_console import _console, _session
from tests.integration.test_orders import api, make_contact, make_order
from tests.servers import InProcessServer


async def test_order_page_watches_its_order(fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    order = await make_order(fx_client, fx_shop, c["id"])
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = await fx_client.get(f"/t/{fx_shop.slug}/orders/{order['id']}", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert f'data-sb-watch="order:{order["id"]}"' in page.text and 'id="sb-last-event"' in page.text
    assert 'id="order-status"' in page.text and 'id="order-status-controls"' in page.text


@pytest.mark.xdist_group("realtime")
async def test_api_status_and_payment_appear_on_open_order_pages(fx_live: InProcessServer,
                                                                 fx_client: Any,
                                                                 fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    order = await make_order(fx_client, fx_shop, c["id"])
    other = await make_order(fx_client, fx_shop, c["id"])
    viewer = await _console(fx_live, fx_shop, await _session(fx_shop, "operator"))
    await viewer.send({"watch": f"order:{order['id']}"})
    await asyncio.sleep(0.2)
    resp = await fx_client.post(api(fx_shop, f"/orders/{order['id']}/status"), json={"status": "paid"},
                                headers=fx_shop.auth)
    assert resp.status_code == 200
    frames = await viewer.until(lambda f: f.event == "order.status_changed")
    text = frames[-1].text
    assert 'id="order-status"' in text and 'data-status="paid"' in text and 'hx-swap-oob="true"' in text
    assert '<option value="packed">' in text and 'name="version" value="2"' in text  # fresh controls
    assert "_csrf" not in text
    paid = await fx_client.post(api(fx_shop, f"/orders/{order['id']}/payments"),
                                json={"amount": 5000, "method": "card"}, headers=fx_shop.auth)
    assert paid.status_code == 200
    frames = await viewer.until(lambda f: f.event == "order.updated")
    assert "$50.00" in frames[-1].text and 'id="order-payments"' in frames[-1].text
    # Another order's change renders nothing for this page.
    await fx_client.post(api(fx_shop, f"/orders/{other['id']}/status"), json={"status": "paid"}, headers=fx_shop.auth)
    # Then this order's own change, which must come after it: only that one renders the status here.
    packed = await fx_client.post(api(fx_shop, f"/orders/{order['id']}/status"), json={"status": "packed"},
                                  headers=fx_shop.auth)
    assert packed.status_code == 200
    frames = await viewer.until(lambda f: f.event == "order.status_changed" and 'data-status="packed"' in f.text)
    assert [f for f in frames if 'id="order-status"' in f.text] == [frames[-1]]
    await viewer.close()
