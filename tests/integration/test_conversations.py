"""The queue: open, take (exactly one winner under concurrency), transfer, wrap-up, role-restricted queues."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from app.accounts.tables import User
from app.lib.db import tenant_context
from app.lib.security import hash_password
from tests.conftest import ShopFixture


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _operator_keys(client: Any, shop: ShopFixture, n: int, role: str = "operator") -> list[dict[str, str]]:
    """n users of `role`, each with an API key of their own (keys act as the user who owns them)."""
    from app.accounts import services as accounts

    keys = []
    pw = await hash_password("operator-password-1")
    async with tenant_context(shop.tenant):
        for i in range(n):
            email = f"{role}{i}.{secrets.token_hex(2)}@x.example"
            rows = await User.insert(User(email=email, name=f"{role.title()} {i}", role=role,
                                          password_hash=pw)).returning(User.id)
            _, key = await accounts._insert_api_key(rows[0]["id"], "test")
            keys.append({"Authorization": f"Bearer {key}"})
    return keys


async def test_twenty_operators_take_the_same_item_exactly_one_wins(fx_client: Any, fx_shop: ShopFixture) -> None:
    contact = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Caller"}, headers=fx_shop.auth)).json()
    item = (await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "call", "contact_id": contact["id"],
                                                                       "subject": "Where is my order?"},
                                 headers=fx_shop.auth)).json()
    assert item["status"] == "waiting"
    operators = await _operator_keys(fx_client, fx_shop, 20)
    answers = await asyncio.gather(*(fx_client.post(api(fx_shop, f"/conversations/{item['id']}/take"), headers=h)
                                     for h in operators))
    codes = [a.status_code for a in answers]
    assert codes.count(200) == 1 and codes.count(409) == 19, codes
    loser = next(a for a in answers if a.status_code == 409)
    assert "already took" in loser.json()["detail"]
    waiting = await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=fx_shop.auth)
    assert item["id"] not in [c["id"] for c in waiting.json()]
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{contact['id']}/timeline"), headers=fx_shop.auth)).json()
    assert [i["summary"] for i in timeline["items"]][:2][1] == "Where is my order?"


async def test_transfer_and_wrap_up(fx_client: Any, fx_shop: ShopFixture) -> None:
    contact = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Wrap"}, headers=fx_shop.auth)).json()
    assert (await fx_client.post(api(fx_shop, "/queues"), json={"key": "billing", "name": "Billing"},
                                 headers=fx_shop.auth)).status_code == 201
    item = (await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "sms", "contact_id": contact["id"]},
                                 headers=fx_shop.auth)).json()
    [op] = await _operator_keys(fx_client, fx_shop, 1)
    assert (await fx_client.post(api(fx_shop, f"/conversations/{item['id']}/take"), headers=op)).status_code == 200
    moved = await fx_client.post(api(fx_shop, f"/conversations/{item['id']}/transfer"), json={"queue": "billing"},
                                 headers=op)
    assert moved.status_code == 200 and moved.json()["status"] == "waiting" and moved.json()["queue_key"] == "billing"
    assert (await fx_client.post(api(fx_shop, f"/conversations/{item['id']}/take"), headers=op)).status_code == 200
    bad = await fx_client.post(api(fx_shop, f"/conversations/{item['id']}/wrapup"), json={"code": ""}, headers=op)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "code"
    done = await fx_client.post(api(fx_shop, f"/conversations/{item['id']}/wrapup"),
                                json={"code": "resolved", "note": "Refund promised"}, headers=op)
    assert done.status_code == 200 and done.json()["status"] == "closed"
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{contact['id']}/timeline"), headers=fx_shop.auth)).json()
    assert timeline["items"][0]["summary"] == "Wrap-up: resolved"
    assert "Refund promised" in timeline["items"][0]["payload"]["body"]
    stats = (await fx_client.get(api(fx_shop, "/queue-stats"), headers=fx_shop.auth)).json()
    assert stats["handled_today"] >= 1


async def test_restricted_queue_is_invisible_to_operators(fx_client: Any, fx_shop: ShopFixture) -> None:
    await fx_client.post(api(fx_shop, "/queues"), json={"key": "vip", "name": "VIP", "roles": ["supervisor"]},
                         headers=fx_shop.auth)
    item = (await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "chat", "queue": "vip"},
                                 headers=fx_shop.auth)).json()
    [op] = await _operator_keys(fx_client, fx_shop, 1)
    [sup] = await _operator_keys(fx_client, fx_shop, 1, role="supervisor")
    assert item["id"] not in [c["id"] for c in (await fx_client.get(api(fx_shop, "/conversations/waiting"),
                                                                    headers=op)).json()]
    assert (await fx_client.get(api(fx_shop, f"/conversations/{item['id']}"), headers=op)).status_code == 404
    assert (await fx_client.post(api(fx_shop, f"/conversations/{item['id']}/take"), headers=op)).status_code == 404
    assert item["id"] in [c["id"] for c in (await fx_client.get(api(fx_shop, "/conversations/waiting"),
                                                                headers=sup)).json()]


async def test_conversations_do_not_cross_tenants(fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    item = (await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "call", "subject": "A only"},
                                 headers=fx_shop.auth)).json()
    for method, path in (("GET", f"/conversations/{item['id']}"), ("POST", f"/conversations/{item['id']}/take")):
        assert (await fx_client.request(method, api(fx_shop, path), headers=fx_other_shop.auth)).status_code == 404
        own = await fx_client.request(method, api(fx_other_shop, path), headers=fx_other_shop.auth)
        assert own.status_code == 404 and "A only" not in own.text
    waiting_b = await fx_client.get(api(fx_other_shop, "/conversations/waiting"), headers=fx_other_shop.auth)
    assert "A only" not in waiting_b.text
    bad = await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "pigeon"}, headers=fx_shop.auth)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "channel"


async def test_admin_manages_queues_on_the_page_and_in_the_api(fx_client: Any, fx_shop: ShopFixture,
                                                               fx_other_shop: ShopFixture) -> None:
    from tests.conftest import browser_login, csrf_from

    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = f"/t/{fx_shop.slug}/settings/queues/"
    token = await csrf_from(fx_client, page)
    html = {"accept": "text/html"}
    added = await fx_client.post(page, data={"_csrf": token, "key": "billing", "name": "Billing",
                                             "roles": ["supervisor"]}, headers=html)
    assert added.status_code == 200 and "Queue “Billing” added." in added.text
    bad = await fx_client.post(page, data={"_csrf": token, "key": "Bad Key!", "name": "x"}, headers=html)
    assert bad.status_code == 400 and "lowercase letters" in bad.text
    renamed = await fx_client.post(page + "billing", data={"_csrf": token, "name": "Billing & refunds",
                                                            "position": "7"}, headers=html)
    assert renamed.status_code == 200 and "Billing &amp; refunds" in renamed.text

    # No roles ticked: everyone sees it now; an operator's queue list shows it.
    [op] = await _operator_keys(fx_client, fx_shop, 1)
    assert "billing" in [q["key"] for q in (await fx_client.get(api(fx_shop, "/queues"), headers=op)).json()]
    restricted = await fx_client.patch(api(fx_shop, "/queues/billing"), json={"roles": ["supervisor"]},
                                       headers=fx_shop.auth)
    assert restricted.status_code == 200 and restricted.json()["roles"] == ["supervisor"]
    assert "billing" not in [q["key"] for q in (await fx_client.get(api(fx_shop, "/queues"), headers=op)).json()]
    assert (await fx_client.patch(api(fx_shop, "/queues/billing"), json={"name": "x"}, headers=op)).status_code == 403
    assert (await fx_client.patch(api(fx_shop, "/queues/billing"), json={"roles": ["wizard"]},
                                  headers=fx_shop.auth)).json()["errors"][0]["field"] == "roles"

    # Archived: no new conversations land there; the last open queue cannot go.
    archived = await fx_client.patch(api(fx_shop, "/queues/billing"), json={"archived": True}, headers=fx_shop.auth)
    assert archived.status_code == 200 and archived.json()["archived"] is True
    refused = await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "chat", "queue": "billing"},
                                   headers=fx_shop.auth)
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "queue"
    last = await fx_client.patch(api(fx_shop, "/queues/general"), json={"archived": True}, headers=fx_shop.auth)
    assert last.status_code == 409 and "only open queue" in last.json()["detail"]

    # Another shop has no such queue.
    assert (await fx_client.patch(api(fx_other_shop, "/queues/billing"), json={"name": "x"},
                                  headers=fx_other_shop.auth)).status_code == 404
