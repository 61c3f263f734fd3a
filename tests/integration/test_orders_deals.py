"""Deals through the API: stages, moves with won/lost reasons, stage history on the timeline, money as integers,
locking against lost moves, and another shop's ids -> 404."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import ShopFixture
from tests.integration.test_orders import api, make_contact, make_order


async def test_deal_pipeline_and_timeline(fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop)
    order = await make_order(fx_client, fx_shop, c["id"])
    bad = await fx_client.post(api(fx_shop, "/deals"), json={"title": "Café fit-out", "contact_id": c["id"],
                                                              "currency": "EUR", "value": 1200.5}, headers=fx_shop.auth)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "value"
    resp = await fx_client.post(api(fx_shop, "/deals"), json={
        "title": "Café fit-out", "contact_id": c["id"], "currency": "EUR", "value": 1_250_000,
        "expected_close": "2026-12-31", "order_ids": [order["id"]]}, headers=fx_shop.auth)
    assert resp.status_code == 201, resp.text
    deal = resp.json()
    assert (deal["stage"], deal["value"], deal["order_ids"], deal["owner_id"]) == ("lead", 1_250_000, [order["id"]],
                                                                                   fx_shop.user_id)
    url = api(fx_shop, f"/deals/{deal['id']}/move")
    unknown = await fx_client.post(url, json={"stage": "moon"}, headers=fx_shop.auth)
    assert unknown.status_code == 400 and "lead, qualified" in unknown.json()["detail"]
    no_reason = await fx_client.post(url, json={"stage": "lost"}, headers=fx_shop.auth)
    assert no_reason.status_code == 400 and no_reason.json()["errors"][0]["field"] == "reason"
    answers = await asyncio.gather(*[fx_client.post(url, json={"stage": s}, headers=fx_shop.auth)
                                     for s in ("qualified", "proposal", "negotiation")])
    assert all(a.status_code == 200 for a in answers)
    lost = await fx_client.post(url, json={"stage": "lost", "reason": "Went with a competitor"}, headers=fx_shop.auth)
    assert lost.status_code == 200 and lost.json()["reason"] == "Went with a competitor" and lost.json()["closed_at"]
    hist = [(h["from_stage"], h["to_stage"]) for h in lost.json()["history"]]
    assert len(hist) == 5 and all(a[1] == b[0] for a, b in zip(hist, hist[1:], strict=False))  # a chain: none lost
    tl = (await fx_client.get(api(fx_shop, f"/contacts/{c['id']}/timeline"), params={"channel": "system"},
                              headers=fx_shop.auth)).json()["items"]
    moves = [i for i in tl if i["payload"].get("event") == "deal_stage_changed"]
    assert len(moves) == 4 and moves[0]["payload"]["to"] == "lost" and "competitor" in moves[0]["summary"]
    for method, path, body in [("GET", f"/deals/{deal['id']}", None),
                               ("POST", f"/deals/{deal['id']}/move", {"stage": "won"})]:
        assert (await fx_client.request(method, api(fx_other_shop, path), json=body,
                                        headers=fx_other_shop.auth)).status_code == 404
    assert (await fx_client.get(api(fx_other_shop, "/deals"), headers=fx_other_shop.auth)).json() == []
