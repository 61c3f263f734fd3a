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


async def test_deals_page_adds_stages_and_assigns_an_owner(fx_client: Any, fx_shop: ShopFixture) -> None:
    from tests.conftest import browser_login, csrf_from

    c = await make_contact(fx_client, fx_shop)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    base = f"/t/{fx_shop.slug}/deals/"
    page = await fx_client.get(base, headers={"accept": "text/html"})
    assert 'data-testid="new-stage-form"' in page.text and 'name="owner_id"' in page.text
    token = await csrf_from(fx_client, base)
    htmx = {"X-CSRF-Token": token, "HX-Request": "true", "accept": "text/html"}
    bad = await fx_client.post(base + "stages", data={"key": "x", "label": "X", "kind": "open"}, headers=htmx)
    assert bad.status_code == 400 and "key must be" in bad.text
    added = await fx_client.post(base + "stages", data={"key": "demo_booked", "label": "Demo booked", "kind": "open",
                                                        "position": "1"}, headers=htmx)
    assert added.status_code == 200 and 'data-testid="stage-demo_booked"' in added.text
    stages = (await fx_client.get(api(fx_shop, "/deal-stages"), headers=fx_shop.auth)).json()
    assert next(s for s in stages if s["key"] == "demo_booked")["label"] == "Demo booked"
    made = await fx_client.post(base, headers=htmx, data={"title": "Office coffee", "contact_id": str(c["id"]),
                                                          "currency": "USD", "value": "1200",
                                                          "owner_id": str(fx_shop.user_id)})
    assert made.status_code == 200 and 'data-testid="deal-owner"' in made.text
    deal = next(d for d in (await fx_client.get(api(fx_shop, "/deals"), headers=fx_shop.auth)).json()
                if d["title"] == "Office coffee")
    assert deal["owner_id"] == fx_shop.user_id and deal["value"] == 120000
    moved = await fx_client.post(f"{base}{deal['id']}/move", data={"stage": "demo_booked"}, headers=htmx)
    assert moved.status_code == 200
    assert (await fx_client.get(api(fx_shop, f"/deals/{deal['id']}"), headers=fx_shop.auth)).json()["stage"] == \
        "demo_booked"
