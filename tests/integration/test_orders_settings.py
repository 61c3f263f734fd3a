"""Order settings page (admins): define the pipeline's statuses, their order and transitions, and the customer's
status email, with the same rules as the API; operators cannot reach it."""

from __future__ import annotations

from typing import Any

from tests.conftest import ShopFixture, browser_login, csrf_from
from tests.integration.test_orders import api, make_contact, make_order


async def _statuses(client: Any, shop: ShopFixture) -> dict[str, dict[str, Any]]:
    rows = (await client.get(api(shop, "/order-statuses"), params={"include_archived": True},
                             headers=shop.auth)).json()
    return {s["key"]: s for s in rows}


async def test_admin_defines_the_pipeline_and_status_email_on_the_page(fx_client: Any, fx_shop: ShopFixture) -> None:
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    base = f"/t/{fx_shop.slug}/settings/orders"
    listing = await fx_client.get(f"/t/{fx_shop.slug}/orders/", headers={"accept": "text/html"})
    assert f'href="{base}/"' in listing.text and f'href="/t/{fx_shop.slug}/orders/import/"' in listing.text
    page = await fx_client.get(f"{base}/", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.text.count('data-testid="status-def"') == len(
        await _statuses(fx_client, fx_shop))
    token = await csrf_from(fx_client, f"{base}/")
    html = {"accept": "text/html"}

    bad = await fx_client.post(f"{base}/statuses", data={"_csrf": token, "key": "On Hold!", "label": "On hold"},
                               headers=html)
    assert bad.status_code == 400 and "key must be" in bad.text
    added = await fx_client.post(f"{base}/statuses", headers=html, data={
        "_csrf": token, "key": "on_hold", "label": "On hold", "allowed": ["paid", "cancelled"],
        "counts_as_sale": "on"})
    assert added.status_code == 200 and "Status On hold added." in added.text, added.text
    defs = await _statuses(fx_client, fx_shop)
    assert defs["on_hold"]["allowed"] == ["paid", "cancelled"] and not defs["on_hold"]["final"]
    assert defs["on_hold"]["position"] > max(s["position"] for k, s in defs.items() if k != "on_hold")

    new = defs["new"]
    saved = await fx_client.post(f"{base}/statuses/new", headers=html, data={
        "_csrf": token, "label": "Received", "position": str(new["position"]),
        "allowed": [*new["allowed"], "on_hold"], **({"counts_as_sale": "on"} if new["counts_as_sale"] else {})})
    assert saved.status_code == 200 and "Status Received saved." in saved.text
    assert (await _statuses(fx_client, fx_shop))["new"]["allowed"] == [*new["allowed"], "on_hold"]
    unknown = await fx_client.post(f"{base}/statuses/nope", data={"_csrf": token, "label": "X"}, headers=html)
    assert unknown.status_code == 404

    # The pipeline drives the order: a new order may now be put on hold, and back to paid.
    c = await make_contact(fx_client, fx_shop)
    order = await make_order(fx_client, fx_shop, c["id"])
    held = await fx_client.post(api(fx_shop, f"/orders/{order['id']}/status"), json={"status": "on_hold"},
                                headers=fx_shop.auth)
    assert held.status_code == 200 and held.json()["status"] == "on_hold"
    wrong = await fx_client.post(api(fx_shop, f"/orders/{order['id']}/status"), json={"status": "delivered"},
                                 headers=fx_shop.auth)
    assert wrong.status_code == 400 and wrong.json()["allowed"] == ["paid", "cancelled"]

    notify = await fx_client.post(f"{base}/notifications", headers=html, data={
        "_csrf": token, "enabled": "on", "statuses": ["paid", "on_hold"], "subject": "Order {{ order.number }}",
        "body": "Now {{ status }}: {{ portal_url }}"})
    assert notify.status_code == 200 and "Customer notifications saved." in notify.text
    conf = (await fx_client.get(api(fx_shop, "/order-notifications"), headers=fx_shop.auth)).json()
    assert conf["enabled"] and conf["statuses"] == ["paid", "on_hold"] and conf["subject"] == "Order {{ order.number }}"
    broken = await fx_client.post(f"{base}/notifications", headers=html, data={
        "_csrf": token, "enabled": "on", "subject": "{{ order.number ", "body": "x"})
    assert broken.status_code == 400 and 'data-testid="error"' in broken.text
