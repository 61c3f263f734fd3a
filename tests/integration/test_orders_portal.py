"""The customer portal over HTTP: tokens (strong, hashed, revocable), 404s, what the page shows and hides,
customer messages to the queue and the timeline, the operator's reply, rate limits, cross-tenant isolation."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import asyncpg

from tests.conftest import CSRF_RE, TEST_DSN, ShopFixture
from tests.integration.test_orders import api, make_contact, make_order


async def issue(client: Any, shop: ShopFixture, order_id: int) -> str:
    resp = await client.post(api(shop, f"/orders/{order_id}/portal"), headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return resp.json()["url"]


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


async def test_portal_link_strength_hashing_revocation(fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop, emails=["secret.buyer@example.com"])
    order = await make_order(fx_client, fx_shop, c["id"], number="A-100")
    other = await make_order(fx_client, fx_shop, c["id"], number="B-200")
    assert (await fx_client.get(api(fx_shop, f"/orders/{order['id']}/portal"), headers=fx_shop.auth)).status_code == 404
    url = await issue(fx_client, fx_shop, order["id"])
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 bits, base64url
    current = await fx_client.get(api(fx_shop, f"/orders/{order['id']}/portal"), headers=fx_shop.auth)
    assert current.json()["url"] == url
    conn = await asyncpg.connect(TEST_DSN)
    try:
        table = f'"{fx_shop.tenant.schema}".shop_order'
        stored = await conn.fetchval(f"SELECT portal_token_hash FROM {table} WHERE id = $1", order["id"])
        dump = await conn.fetchval(f'SELECT row_to_json(o)::text FROM "{fx_shop.tenant.schema}".shop_order o '
                                   "WHERE id = $1", order["id"])
    finally:
        await conn.close()
    assert stored == hashlib.sha256(token.encode()).hexdigest() and token not in dump

    page = await fx_client.get(path_of(url), headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "A-100" in page.text and "B-200" not in page.text
    assert "secret.buyer@example.com" not in page.text and "Ada Buyer" not in page.text
    assert page.headers["referrer-policy"] == "no-referrer" and "no-store" in page.headers["cache-control"]
    assert 'data-status="new"' in page.text

    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), "x" * 43, token + "x", "short"):
        assert (await fx_client.get(f"/t/{fx_shop.slug}/portal/{bad}")).status_code == 404
    await fx_client.post(api(fx_shop, f"/orders/{order['id']}/status"), json={"status": "paid"}, headers=fx_shop.auth)
    assert 'data-status="paid"' in (await fx_client.get(path_of(url))).text

    new_url = await issue(fx_client, fx_shop, order["id"])  # reissue: the old link dies
    assert new_url != url
    assert (await fx_client.get(path_of(url))).status_code == 404
    assert (await fx_client.get(path_of(new_url))).status_code == 200
    revoked = await fx_client.delete(api(fx_shop, f"/orders/{order['id']}/portal"), headers=fx_shop.auth)
    assert revoked.status_code == 204
    assert (await fx_client.get(path_of(new_url))).status_code == 404
    assert (await fx_client.post(path_of(new_url) + "/messages", data={"body": "hi"})).status_code in (403, 404)
    other_url = await issue(fx_client, fx_shop, other["id"])
    assert "B-200" in (await fx_client.get(path_of(other_url))).text


async def test_token_of_one_shop_is_404_in_another(fx_client: Any, fx_shop: ShopFixture,
                                                   fx_other_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    order = await make_order(fx_client, fx_shop, c["id"])
    token = (await issue(fx_client, fx_shop, order["id"])).rsplit("/", 1)[1]
    c2 = await make_contact(fx_client, fx_other_shop)
    await make_order(fx_client, fx_other_shop, c2["id"])  # same numeric order id in the other schema
    assert (await fx_client.get(f"/t/{fx_other_shop.slug}/portal/{token}")).status_code == 404
    assert (await fx_client.get(f"/t/{fx_shop.slug}/portal/{token}")).status_code == 200


async def test_customer_message_reaches_queue_and_timeline_and_reply_reaches_portal(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    order = await make_order(fx_client, fx_shop, c["id"], number="M-1")
    url = path_of(await issue(fx_client, fx_shop, order["id"]))
    page = await fx_client.get(url, headers={"accept": "text/html"})
    csrf = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
    assert (await fx_client.post(url + "/messages", data={"body": "Where is my parcel?"})).status_code == 403
    sent = await fx_client.post(url + "/messages", data={"body": "Where is my parcel?", "_csrf": csrf},
                                headers={"hx-request": "true"})
    assert sent.status_code == 200 and "Where is my parcel?" in sent.text
    await fx_client.post(url + "/messages", data={"body": "Any news?", "_csrf": csrf}, headers={"hx-request": "true"})
    waiting = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=fx_shop.auth)).json()
    mine = [w for w in waiting if w["contact_id"] == c["id"]]
    assert len(mine) == 1 and mine[0]["channel"] == "chat" and "Where is my parcel?" in mine[0]["subject"]
    chat = (await fx_client.get(api(fx_shop, f"/contacts/{c['id']}/timeline"), params={"channel": "chat"},
                                headers=fx_shop.auth)).json()["items"]
    assert [(i["direction"], i["actor_type"]) for i in chat] == [("in", "customer"), ("in", "customer")]
    assert "Any news?" in chat[0]["summary"]
    reply = await fx_client.post(api(fx_shop, f"/orders/{order['id']}/messages"),
                                 json={"body": "It ships tomorrow."}, headers=fx_shop.auth)
    assert reply.status_code == 201 and reply.json()["direction"] == "out"
    portal_page = (await fx_client.get(url)).text
    assert portal_page.index("Where is my parcel?") < portal_page.index("It ships tomorrow.")
    msgs = (await fx_client.get(api(fx_shop, f"/orders/{order['id']}/messages"), headers=fx_shop.auth)).json()
    assert [m["direction"] for m in msgs] == ["in", "in", "out"]
    assert msgs[0]["conversation_id"] == mine[0]["id"]
    empty = await fx_client.post(url + "/messages", data={"body": "  ", "_csrf": csrf}, headers={"hx-request": "true"})
    assert empty.status_code == 400 and "empty" in empty.text


async def test_portal_messages_are_rate_limited(fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    order = await make_order(fx_client, fx_shop, c["id"])
    url = path_of(await issue(fx_client, fx_shop, order["id"]))
    csrf = CSRF_RE.search((await fx_client.get(url)).text).group(1)  # type: ignore[union-attr]
    codes = [(await fx_client.post(url + "/messages", data={"body": f"m{i}", "_csrf": csrf},
                                   headers={"hx-request": "true"})).status_code for i in range(12)]
    assert codes[:10] == [200] * 10 and codes[10:] == [429, 429]
