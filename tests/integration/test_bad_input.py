"""Bad input never gets a 500: every route under /t/{slug}/, with real records behind its ids, is sent broken JSON,
JSON of the wrong shape, nonsense form fields and empty forms. Each answer is below 500, and every JSON API
refusal carries a `detail` a person can act on. The routes come from the app's route table, so a new one is
covered the day it is added."""

from __future__ import annotations

import re
from typing import Any

from litestar.routes import HTTPRoute

from tests.conftest import ShopFixture
from tests.integration.test_orders import order_body

JSON_BODIES = ("{", "[]", '{"unexpected": [1, {"a": null}]}', '"text"', "null", '{"name": 12, "body": [], "id": -1}')
NONSENSE_FORM = {"name": "x" * 5000, "body": "", "code": "", "queue": "nope", "user_id": "abc", "status": "??",
                 "on": "maybe", "target": "user:abc", "number": "not a phone", "to": "bad", "subject": "",
                 "amount": "-1e99", "currency": "XXX", "col_0": "zzz", "version": "x", "items": "[",
                 "email": "not-an-email", "role": "god", "upto": "-5", "file": "nofile", "stage": "moon"}


async def _records(client: Any, shop: ShopFixture) -> dict[str, str]:
    """Id 1 of the main records exists, so requests get past "not found" into validation. Returns the headers of a
    second API key: the sweep revokes key 1 on the way (DELETE /api-keys/1) and must go on."""
    base = f"/t/{shop.slug}/api/v1"
    for kind, options in (("multiselect", ["a", "b"]), ("select", ["a", "b"]), ("boolean", []), ("date", [])):
        made = await client.post(base + "/custom-fields", json={"key": f"f_{kind}", "label": kind, "kind": kind,
                                                                "options": options}, headers=shop.auth)
        assert made.status_code == 201, made.text
    contact = (await client.post(base + "/contacts", json={"name": "Probe", "phones": ["+14155550100"],
                                                           "emails": ["p@x.example"]}, headers=shop.auth)).json()
    created = [
        await client.post(base + "/orders", json=order_body(contact["id"]), headers=shop.auth),
        await client.post(base + "/deals", json={"title": "T", "contact_id": contact["id"], "currency": "EUR",
                                                 "value": 100}, headers=shop.auth),
        await client.post(base + "/conversations", json={"channel": "chat", "subject": "Hi",
                                                         "contact_id": contact["id"]}, headers=shop.auth),
        await client.post(base + "/email-templates", json={"kind": "canned", "name": "n", "shortcut": "hi",
                                                           "body": "Hi {{ contact.name }}"}, headers=shop.auth),
        await client.post(base + f"/contacts/{contact['id']}/notes", json={"body": "note"}, headers=shop.auth),
    ]
    assert [r.status_code for r in created] == [201] * len(created), [r.text for r in created]
    await client.post(base + "/conversations/1/take", headers=shop.auth)
    key = await client.post(base + "/api-keys", json={"name": "sweep"}, headers=shop.auth)
    assert key.status_code == 201, key.text
    return {"Authorization": f"Bearer {key.json()['secret']}"}


async def test_no_route_answers_500_to_bad_input(fx_client: Any, fx_shop: ShopFixture) -> None:
    auth = await _records(fx_client, fx_shop)
    failures, sent = [], 0
    statuses: list[int] = []
    for route in fx_client._transport.app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/t/{slug"):
            continue
        path = re.sub(r"\{\w+:int\}", "1", re.sub(r"\{\w+:(str|path)\}", "x", route.path.replace(
            "{slug:str}", fx_shop.slug)))
        for method in sorted(route.methods & {"POST", "PUT", "PATCH", "DELETE", "GET"}):
            attempts: list[dict[str, Any]] = []
            if method in ("GET", "DELETE"):
                attempts.append({})
            else:
                attempts += [{"content": body, "headers": {"content-type": "application/json"}} for body in JSON_BODIES]
                attempts += [{"data": NONSENSE_FORM}, {"data": {}}]
            for kwargs in attempts:
                headers = {**auth, **kwargs.pop("headers", {})}
                resp = await fx_client.request(method, path, headers=headers, **kwargs)
                sent += 1
                statuses.append(resp.status_code)
                if resp.status_code >= 500:
                    failures.append((method, route.path, kwargs, resp.status_code, resp.text[:200]))
                elif (400 <= resp.status_code < 500 and "/api/v1/" in route.path
                      and not (resp.headers.get("content-type", "").startswith("application/json")
                               and resp.json().get("detail"))):
                    failures.append((method, route.path, kwargs, resp.status_code, "no JSON detail"))
    assert failures == []
    assert sent > 900 and statuses.count(400) > 300  # most attempts reached validation, not "not found"
