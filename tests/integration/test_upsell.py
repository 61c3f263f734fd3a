"""Upsell: pairs with exact support/confidence/lift over a fixture of orders (hand-computed), category pairs, a
reorder suggestion on the right day and not before, shown/offered/accepted/ordered tracking with revenue, the card and
console panels, merge and erasure, and another shop's ids -> 404."""
# ruff: noqa: RUF001  (the Russian test data is Cyrillic on purpose)

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from app.lib import clock
from app.lib.db import current_uow, tenant_context
from tests.conftest import ShopFixture, browser_login, make_shop
from tests.integration.test_orders import api, make_contact

BEANS = {"name": "Espresso beans 1kg", "sku": "BEAN-1", "category": "Coffee", "quantity": 1, "unit_price": 1999}
GRINDER = {"name": "Grinder", "sku": "GR-9", "category": "Equipment", "quantity": 1, "unit_price": 8950}
FILTER = {"name": "Paper filters", "sku": "", "category": "Equipment", "quantity": 2, "unit_price": 450}
MUG = {"name": "Mug", "sku": "MUG", "category": "Tableware", "quantity": 1, "unit_price": 1200}
FOOD = {"name": "Dog Food 5kg", "sku": "", "category": "Pets", "quantity": 1, "unit_price": 3000}
BASE = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0) - dt.timedelta(days=200)


def day(n: int) -> dt.datetime:
    return BASE + dt.timedelta(days=n)


async def order(client: Any, shop: ShopFixture, contact_id: int, items: list[dict[str, Any]], at: dt.datetime,
                currency: str = "USD") -> dict[str, Any]:
    resp = await client.post(api(shop, "/orders"), json={"contact_id": contact_id, "currency": currency,
                                                         "items": items, "placed_at": at.isoformat()},
                             headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def fixture(client: Any, shop: ShopFixture) -> dict[str, int]:
    """Baskets: A {beans, grinder}, B {beans, grinder, filters}, C {beans, filters}, D {beans}, E {grinder, mug};
    F's order was refunded entirely and G's cancelled: neither counts. N = 5 baskets."""
    ids = {}
    for name in "ABCDEFG":
        ids[name] = (await make_contact(client, shop, name=f"Client {name}"))["id"]
    await order(client, shop, ids["A"], [BEANS, GRINDER], day(1))
    await order(client, shop, ids["B"], [BEANS], day(2))
    await order(client, shop, ids["B"], [GRINDER, FILTER], day(5))
    await order(client, shop, ids["C"], [BEANS, FILTER], day(3))
    await order(client, shop, ids["D"], [BEANS], day(4))
    await order(client, shop, ids["E"], [GRINDER, MUG], day(6))
    refunded = await order(client, shop, ids["F"], [BEANS, MUG], day(7))
    cancelled = await order(client, shop, ids["G"], [GRINDER, MUG], day(8))
    async with tenant_context(shop.tenant):
        conn = current_uow().connection
        await conn.execute("UPDATE shop_order SET paid = total, refunded = total WHERE id = $1", refunded["id"])
        await conn.execute("UPDATE shop_order SET status = 'cancelled' WHERE id = $1", cancelled["id"])
    return ids


async def recompute(shop: ShopFixture, **settings: Any) -> dict[str, int]:
    from app.upsell import services

    async with tenant_context(shop.tenant):
        if settings:
            await services.save_settings(settings)
        return await services.recompute()


def rules(rows: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, float, float, float]]:
    return {(r["antecedent"], r["consequent"]): (r["baskets_xy"], round(r["support"], 4), round(r["confidence"], 4),
                                                 round(r["lift"], 4)) for r in rows}


async def test_pairs_have_the_hand_computed_support_confidence_and_lift(fx_client: Any, fx_shop: ShopFixture) -> None:
    ids = await fixture(fx_client, fx_shop)
    await recompute(fx_shop, min_support=0, min_confidence=0, min_count=2)
    resp = await fx_client.get(api(fx_shop, "/upsell/pairs"), headers=fx_shop.auth)
    assert resp.status_code == 200, resp.text
    # Counts: beans 4, grinder 3, filters 2, mug 1 of N = 5. Both: beans+grinder 2 (A, B), beans+filters 2 (B, C);
    # grinder+filters 1 and grinder+mug 1 stay under min_count 2.
    assert rules(resp.json()) == {
        ("BEAN-1", "GR-9"): (2, 0.4, 0.5, round(0.5 / 0.6, 4)),
        ("GR-9", "BEAN-1"): (2, 0.4, round(2 / 3, 4), round((2 / 3) / 0.8, 4)),
        ("BEAN-1", "paper filters"): (2, 0.4, 0.5, 1.25),
        ("paper filters", "BEAN-1"): (2, 0.4, 1.0, 1.25),
    }
    # Categories: coffee {A, B, C, D}, equipment {A, B, C, E}: both 3 of 5.
    cats = (await fx_client.get(api(fx_shop, "/upsell/pairs?level=category"), headers=fx_shop.auth)).json()
    assert rules(cats) == {("coffee", "equipment"): (3, 0.6, 0.75, 0.9375),
                           ("equipment", "coffee"): (3, 0.6, 0.75, 0.9375)}
    assert {c["antecedent_name"] for c in cats} == {"Coffee", "Equipment"}

    # The shop's minimum confidence leaves the weaker rules out.
    await recompute(fx_shop, min_confidence=0.6)
    strong = (await fx_client.get(api(fx_shop, "/upsell/pairs"), headers=fx_shop.auth)).json()
    assert set(rules(strong)) == {("GR-9", "BEAN-1"), ("paper filters", "BEAN-1")}
    assert strong[0]["lift"] >= strong[1]["lift"]
    await recompute(fx_shop, min_confidence=0, min_support=0.5)
    assert (await fx_client.get(api(fx_shop, "/upsell/pairs"), headers=fx_shop.auth)).json() == []

    # Suggestions: what their basket's rules say, never what they hold already.
    await recompute(fx_shop, min_support=0, min_confidence=0)
    got = {}
    for name in "ABCDE":
        r = await fx_client.get(api(fx_shop, f"/contacts/{ids[name]}/suggestions"), headers=fx_shop.auth)
        assert r.status_code == 200, r.text
        got[name] = {(s["product_key"], s["kind"]) for s in r.json()}
    assert got == {"A": {("paper filters", "pair")}, "B": set(), "C": {("GR-9", "pair")},
                   "D": {("GR-9", "pair"), ("paper filters", "pair")}, "E": {("BEAN-1", "pair")}}
    e = (await fx_client.get(api(fx_shop, f"/contacts/{ids['E']}/suggestions"), headers=fx_shop.auth)).json()[0]
    assert e["details"]["because"] == "Grinder" and round(e["details"]["confidence"], 4) == round(2 / 3, 4)
    assert e["reason"] == "Bought Grinder: 67% of the clients who bought it also bought this (lift 0.83)."

    bad = await fx_client.get(api(fx_shop, "/upsell/pairs?level=brand"), headers=fx_shop.auth)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "level"
    bad = await fx_client.put(api(fx_shop, "/upsell/settings"), json={"min_support": 1.5}, headers=fx_shop.auth)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "min_support"
    ok = await fx_client.put(api(fx_shop, "/upsell/settings"), json={"min_support": 0.1, "min_confidence": 0.3},
                             headers=fx_shop.auth)
    assert ok.status_code == 200 and ok.json()["min_support"] == 0.1
    assert (await fx_client.get(api(fx_shop, "/upsell/settings"), headers=fx_shop.auth)).json()["min_confidence"] == 0.3


async def test_reorder_suggestion_appears_on_the_due_day_and_not_before(
        fx_client: Any, fx_shop: ShopFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.upsell import services

    r = (await make_contact(fx_client, fx_shop, name="Rex Owner"))["id"]
    s = (await make_contact(fx_client, fx_shop, name="Sam Once"))["id"]
    # R reorders after 28 and 32 days: the median is 30; the last order was on day 60, so due on day 90.
    for n in (0, 28, 60):
        await order(fx_client, fx_shop, r, [FOOD], day(n))
    t = (await make_contact(fx_client, fx_shop, name="Tess Twice"))["id"]
    await order(fx_client, fx_shop, t, [FOOD], day(10))
    await order(fx_client, fx_shop, t, [FOOD], day(40))
    # S bought once on day 70: two of its three buyers reorder it, every 28, 30 and 32 days: S is due on day 100.
    await order(fx_client, fx_shop, s, [FOOD], day(70))
    await recompute(fx_shop)

    async def at(n: int) -> dict[int, list[Any]]:
        monkeypatch.setattr(clock, "now", lambda: day(n) + dt.timedelta(hours=1))
        async with tenant_context(fx_shop.tenant):
            return await services.suggestions_for([r, s])

    assert await at(89) == {r: [], s: []}
    due = await at(90)
    assert [(x.kind, x.product_key, x.due_on) for x in due[r]] == [("reorder", "dog food 5kg", day(90).date())]
    assert due[r][0].details["interval_days"] == 30 and due[r][0].details["days_since"] == 30
    assert due[s] == []
    late = await at(94)
    assert late[r][0].reason == "Usually reorders every 30 days; it has been 34 days."
    assert late[r][0].details["days_since"] == 34
    assert late[s] == []
    assert (await at(100))[s][0].reason == "Clients reorder this every 30 days; it has been 30 days."

    # R orders again on day 95: nothing is suggested for a product bought just now, even before a recompute.
    monkeypatch.setattr(clock, "now", lambda: dt.datetime.now(dt.UTC))
    await order(fx_client, fx_shop, r, [FOOD], day(95))
    assert (await at(96))[r] == []
    await recompute(fx_shop)
    # Intervals 28, 32 and 35: the median is 32, so the next one is due on day 127.
    assert (await at(126))[r] == []
    assert [x.due_on for x in (await at(127))[r]] == [day(127).date()]


async def test_shown_offered_accepted_and_ordered_with_revenue(fx_client: Any, fx_shop: ShopFixture) -> None:
    from app.upsell import jobs
    from app.upsell.domain import DOMAIN
    from realtime import durable

    ids = await fixture(fx_client, fx_shop)
    await recompute(fx_shop, min_support=0, min_confidence=0)
    listener = next(li for li in DOMAIN.listeners if li.name == "upsell.attribution")
    async with tenant_context(fx_shop.tenant):
        await durable.ensure_cursors([listener])
    d = ids["D"]
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    card = await fx_client.get(f"/t/{fx_shop.slug}/contacts/{d}", headers={"accept": "text/html"})
    assert 'data-testid="card-upsell-loader"' in card.text
    panel = await fx_client.get(f"/t/{fx_shop.slug}/contacts/{d}/upsell/?source=card",
                                headers={"accept": "text/html"})
    assert panel.status_code == 200
    assert panel.text.count('data-testid="upsell-suggestion"') == 2
    assert "Bought Espresso beans 1kg: 50% of the clients who bought it also bought this" in panel.text
    # Rendered again the same day (and in the console): 'shown' stays one per contact and product.
    await fx_client.get(f"/t/{fx_shop.slug}/contacts/{d}/upsell/?source=console&ref=7",
                        headers={"accept": "text/html"})
    again = await fx_client.post(api(fx_shop, "/upsell/events"), headers=fx_shop.auth,
                                 json={"contact_id": d, "product_key": "GR-9", "kind": "shown", "source": "card"})
    assert again.status_code == 201 and again.json() == {"recorded": False}
    accepted = await fx_client.post(f"/t/{fx_shop.slug}/contacts/{d}/upsell/events", headers={"accept": "text/html"},
                                    data={"product_key": "GR-9", "kind": "accepted", "source": "card",
                                          "_csrf": csrf_of(panel.text, card.text)})
    assert accepted.status_code in (200, 201), accepted.text
    assert "Recorded" in accepted.text
    bad = await fx_client.post(api(fx_shop, "/upsell/events"), headers=fx_shop.auth,
                               json={"contact_id": d, "product_key": "GR-9", "kind": "bought", "source": "card"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "kind"

    # D orders the grinder (and beans again): the grinder's line becomes 'ordered' with its revenue.
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    placed = await order(fx_client, fx_shop, d, [dict(GRINDER, quantity=2), BEANS], now)
    await drain(fx_shop, listener)
    await drain(fx_shop, listener)  # handled once: nothing more
    async with tenant_context(fx_shop.tenant):
        rows = await current_uow().connection.fetch(
            "SELECT kind, product_key, source, order_id, revenue FROM upsell_event WHERE contact = $1 ORDER BY id", d)
    kinds = [(r["kind"], r["product_key"]) for r in rows]
    assert kinds.count(("shown", "GR-9")) == 1 and kinds.count(("shown", "paper filters")) == 1
    assert ("accepted", "GR-9") in kinds
    ordered = [dict(r) for r in rows if r["kind"] == "ordered"]
    assert ordered == [{"kind": "ordered", "product_key": "GR-9", "source": "card", "order_id": placed["id"],
                        "revenue": 2 * 8950}]
    async with tenant_context(fx_shop.tenant):
        from app.upsell import services
        assert await services.attribute_order(placed["id"]) == 0  # idempotent

    report = (await fx_client.get(api(fx_shop, "/upsell/report?days=30"), headers=fx_shop.auth)).json()
    assert (report["shown"], report["accepted"], report["ordered"], report["revenue"]) == (2, 1, 1, 17900)
    assert report["currency"] == "USD" and report["pairs"]
    page = await fx_client.get(f"/t/{fx_shop.slug}/upsell/", headers={"accept": "text/html"})
    assert page.status_code == 200 and 'data-testid="upsell-pairs"' in page.text and "$179.00" in page.text
    assert jobs.RECOMPUTE_JOB == "upsell.recompute"


async def drain(shop: ShopFixture, listener: Any) -> None:
    """Run the durable listener over the shop's events until none waits (held-back ones are visited again)."""
    import asyncio

    from realtime import durable

    for _ in range(500):
        async with tenant_context(shop.tenant):
            result = await durable.run_batch(listener, durable.Backoff())
        if not result.more and result.retry_in is None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the listener did not catch up")


def csrf_of(*pages: str) -> str:
    import re

    for text in pages:
        m = re.search(r'name="_csrf" value="([^"]+)"', text) or re.search(r'csrf[^"]*"\s*content="([^"]+)"', text)
        if m:
            return m.group(1)
    return ""


async def test_another_shops_contact_is_not_found(fx_client: Any, fx_shop: ShopFixture) -> None:
    other = await make_shop("b")
    ids = await fixture(fx_client, fx_shop)
    await recompute(fx_shop, min_support=0, min_confidence=0)
    d = ids["D"]
    assert (await fx_client.get(api(other, f"/contacts/{d}/suggestions"), headers=other.auth)).status_code == 404
    resp = await fx_client.post(api(other, "/upsell/events"), headers=other.auth,
                                json={"contact_id": d, "product_key": "GR-9", "kind": "shown", "source": "card"})
    assert resp.status_code == 404
    assert (await fx_client.get(api(other, "/upsell/pairs"), headers=other.auth)).json() == []
    report = (await fx_client.get(api(other, "/upsell/report"), headers=other.auth)).json()
    assert report["shown"] == 0 and report["pairs"] == []
    # The shop's own key on the other shop's path: refused.
    assert (await fx_client.get(api(other, "/upsell/pairs"), headers=fx_shop.auth)).status_code in (401, 403, 404)


async def test_merge_moves_events_and_erasure_drops_the_profile(fx_client: Any, fx_shop: ShopFixture) -> None:
    from app.upsell import services

    ids = await fixture(fx_client, fx_shop)
    await recompute(fx_shop, min_support=0, min_confidence=0)
    async with tenant_context(fx_shop.tenant):
        assert await services.record(ids["D"], "GR-9", "offered", "console", "12")
        assert await services.MERGE_STEP.fn(ids["D"], ids["A"]) == 1
        conn = current_uow().connection
        assert await conn.fetchval("SELECT count(*) FROM upsell_suggestion WHERE contact = $1", ids["D"]) == 0
        assert await conn.fetchval("SELECT count(*) FROM upsell_event WHERE contact = $1", ids["A"]) == 1

    # Erasure: C's suggestions go at once, and no later recompute profiles C again; C's events stay as amounts.
    c = ids["C"]
    async with tenant_context(fx_shop.tenant):
        assert await services.record(c, "GR-9", "accepted", "card")
    resp = await fx_client.post(api(fx_shop, f"/contacts/{c}/erase"), headers=fx_shop.auth)
    assert resp.status_code == 200, resp.text
    async with tenant_context(fx_shop.tenant):
        conn = current_uow().connection
        assert await conn.fetchval("SELECT count(*) FROM upsell_suggestion WHERE contact = $1", c) == 0
    await recompute(fx_shop)
    async with tenant_context(fx_shop.tenant):
        conn = current_uow().connection
        assert await conn.fetchval("SELECT count(*) FROM upsell_suggestion WHERE contact = $1", c) == 0
        assert await conn.fetchval("SELECT count(*) FROM upsell_event WHERE contact = $1", c) == 1
    # Baskets without C: beans {A, B, D}, filters {B}: beans+filters 1 < min_count, so that pair is gone.
    pairs = (await fx_client.get(api(fx_shop, "/upsell/pairs"), headers=fx_shop.auth)).json()
    assert ("BEAN-1", "paper filters") not in rules(pairs) and ("BEAN-1", "GR-9") in rules(pairs)


async def test_the_demo_shop_has_a_pair_and_a_due_reorder(fx_db: str) -> None:
    from app import demo
    from app.upsell import services
    from tenants import services as tenants
    from tests.conftest import unique_slug

    shop = await tenants.signup("Demo twin", unique_slug("upsell_demo"), demo.DEMO_OWNER[0], demo.DEMO_OWNER[1],
                                owner_name="Owner")
    assert await demo.seed_shop(shop.tenant, seed=7) is True
    async with tenant_context(shop.tenant):
        conn = current_uow().connection
        assert await conn.fetchval("SELECT count(*) FROM order_item WHERE category = ''") == 0
        assert await conn.fetchval("SELECT count(*) FROM upsell_pair WHERE level = 'product'") >= 1
        assert await conn.fetchval("SELECT count(*) FROM upsell_pair WHERE level = 'category'") >= 1
        due = [r["contact"] for r in await conn.fetch(
            "SELECT contact FROM upsell_suggestion WHERE kind = 'reorder' AND reason->>'basis' = 'contact'")]
        found = await services.suggestions_for(due)
    reasons = [s.reason for items in found.values() for s in items if s.kind == "reorder"]
    assert "Usually reorders every 29 days; it has been 31 days." in reasons


async def test_order_lines_carry_their_category_through_api_form_and_import(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    from tests.integration.test_orders_import import _prepare, _run, _upload, cp1251

    c = (await make_contact(fx_client, fx_shop, name="Cat Buyer"))["id"]
    made = await order(fx_client, fx_shop, c, [BEANS, dict(MUG, category="")], day(1))
    assert [(i["sku"], i["category"]) for i in made["items"]] == [("BEAN-1", "Coffee"), ("MUG", "")]
    patched = await fx_client.patch(api(fx_shop, f"/orders/{made['id']}"), headers=fx_shop.auth,
                                    json={"items": [dict(MUG, category="Tableware")]})
    assert patched.status_code == 200 and patched.json()["items"][0]["category"] == "Tableware"
    long = await fx_client.post(api(fx_shop, "/orders"), headers=fx_shop.auth, json={
        "contact_id": c, "currency": "USD", "items": [dict(MUG, category="x" * 101)]})
    assert long.status_code == 400 and long.json()["errors"][0]["field"] == "items[0].category"

    # The order form on the card and the order page show and keep it.
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = await fx_client.get(f"/t/{fx_shop.slug}/orders/{made['id']}", headers={"accept": "text/html"})
    assert 'name="item_category" value="Tableware"' in page.text and ">Tableware</td>" in page.text

    # A 1C export with a «Категория» column: mapped by its name, stored on each line.
    await _prepare(fx_client, fx_shop)
    lines = ["Код заказа;Дата;Покупатель;Телефон;Номенклатура;Артикул;Категория;Количество;Цена;Валюта",
             "1C-9;05.03.2026;Иванов Иван;+7 912 345-67-89;Кофе зерновой 1 кг;CF-1;Кофе;2;1 234,50;руб.",
             "1C-9;;;;Кружка;MG-1;Посуда;1;350,00;"]
    up = await _upload(fx_client, fx_shop, cp1251(lines))
    assert up["suggested_mapping"][6] == "category"
    resp = await fx_client.put(api(fx_shop, f"/order-imports/{up['id']}/mapping"), headers=fx_shop.auth,
                               json={"mapping": up["suggested_mapping"]})
    assert resp.status_code == 200, resp.text
    done = await _run(fx_client, fx_shop, up["id"])
    assert done["status"] == "done" and done["created"] == 1, done
    items = (await fx_client.get(api(fx_shop, "/orders"), headers=fx_shop.auth)).json()["items"]
    imported = next(o for o in items if o["external_id"] == "1C-9")
    assert [(i["sku"], i["category"]) for i in imported["items"]] == [("CF-1", "Кофе"), ("MG-1", "Посуда")]


async def test_order_events_queue_one_debounced_recompute_and_the_job_queues_the_next_night(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    from app.lib.jobs import QUEUE_TABLE
    from app.upsell import jobs
    from app.upsell.domain import DOMAIN
    from realtime import durable

    listener = next(li for li in DOMAIN.listeners if li.name == "upsell.recompute")
    async with tenant_context(fx_shop.tenant):
        await durable.ensure_cursors([listener])
    ids = await fixture(fx_client, fx_shop)  # eight orders, two changed
    await drain(fx_shop, listener)

    async def queued() -> list[dict[str, Any]]:
        async with tenant_context(fx_shop.tenant):
            rows = await current_uow().connection.fetch(
                f"SELECT dedupe_key, execute_after > now() AS later FROM {QUEUE_TABLE} "
                "WHERE entrypoint = $1 AND status = 'queued' AND dedupe_key LIKE $2 ORDER BY id",
                jobs.RECOMPUTE_JOB, f"upsell:recompute:{fx_shop.slug}:%")
        return [dict(r) for r in rows]

    assert await queued() == [{"dedupe_key": f"upsell:recompute:{fx_shop.slug}:soon", "later": True}]
    await jobs.recompute({"tenant": fx_shop.slug})
    nights = [r["dedupe_key"] for r in await queued() if not r["dedupe_key"].endswith(":soon")]
    assert len(nights) == 1 and dt.date.fromisoformat(nights[0].rsplit(":", 1)[1]) > dt.date.today() - dt.timedelta(1)
    async with tenant_context(fx_shop.tenant):
        assert await current_uow().connection.fetchval(
            "SELECT count(*) FROM upsell_suggestion WHERE contact = $1", ids["E"]) == 1
        await current_uow().connection.execute(
            f"DELETE FROM {QUEUE_TABLE} WHERE dedupe_key LIKE $1", f"upsell:recompute:{fx_shop.slug}:%")


async def test_console_conversation_shows_the_clients_suggestions(fx_client: Any, fx_shop: ShopFixture) -> None:
    from tests.conftest import csrf_from

    ids = await fixture(fx_client, fx_shop)
    await recompute(fx_shop, min_support=0, min_confidence=0)
    e = ids["E"]
    made = await fx_client.post(api(fx_shop, "/conversations"), headers=fx_shop.auth,
                                json={"channel": "chat", "subject": "About my grinder", "contact_id": e})
    assert made.status_code == 201, made.text
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/console/")
    took = await fx_client.post(f"/t/{fx_shop.slug}/console/take/{made.json()['id']}", headers={"X-CSRF-Token": token})
    assert took.status_code < 400, took.text
    mine = await fx_client.get(f"/t/{fx_shop.slug}/console/panels/mine", headers={"accept": "text/html"})
    url = f"/t/{fx_shop.slug}/contacts/{e}/upsell/?source=console&amp;ref={made.json()['id']}"
    assert url in mine.text
    panel = await fx_client.get(url.replace("&amp;", "&"), headers={"accept": "text/html"})
    assert 'data-source="console"' in panel.text and 'data-product-key="BEAN-1"' in panel.text
    assert "Bought Grinder: 67% of the clients who bought it also bought this (lift 0.83)." in panel.text
    async with tenant_context(fx_shop.tenant):
        row = await current_uow().connection.fetchrow(
            "SELECT kind, source, ref FROM upsell_event WHERE contact = $1 AND product_key = 'BEAN-1'", e)
    assert dict(row) == {"kind": "shown", "source": "console", "ref": str(made.json()["id"])}


async def test_two_recomputes_at_once_both_finish(fx_client: Any, fx_shop: ShopFixture) -> None:
    import asyncio

    await fixture(fx_client, fx_shop)
    first, second = await asyncio.gather(recompute(fx_shop, min_support=0, min_confidence=0), recompute(fx_shop))
    assert first["pairs"] == second["pairs"] == 4


async def test_settings_and_recompute_from_the_upsell_page(fx_client: Any, fx_shop: ShopFixture) -> None:
    from tests.conftest import csrf_from

    await fixture(fx_client, fx_shop)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    base = f"/t/{fx_shop.slug}/upsell"
    home = await fx_client.get(f"/t/{fx_shop.slug}/", headers={"accept": "text/html"}, follow_redirects=True)
    assert f'href="{base}/"' in home.text
    token = await csrf_from(fx_client, f"{base}/")
    form = {"min_support": "2", "min_confidence": "0,5", "min_count": "2", "recent_days": "7",
            "attribution_days": "14", "_csrf": token}
    bad = await fx_client.post(f"{base}/settings", data=form, headers={"accept": "text/html"})
    assert bad.status_code == 400 and "min_support must be a number between 0 and 1." in bad.text
    ok = await fx_client.post(f"{base}/settings", data={**form, "min_support": "0.1"}, headers={"accept": "text/html"})
    assert ok.status_code in (200, 201) and "Upsell settings saved." in ok.text
    done = await fx_client.post(f"{base}/recompute", data={"_csrf": token}, headers={"accept": "text/html"})
    # Confidence 0.5 or more: beans -> grinder and -> filters (0.5), grinder -> beans (0.67), filters -> beans (1).
    assert "Recomputed: 4 pairs." in done.text and done.text.count('data-testid="upsell-pair"') == 4 + 2


async def test_a_waiting_callers_panel_shows_their_best_suggestion(fx_client: Any, fx_shop: ShopFixture,
                                                                   fx_other_shop: ShopFixture) -> None:
    """The caller panel of a call waiting in the queue names the caller's best suggestion and why, in the viewer's
    language; another shop's console shows nothing of it."""
    ids = await fixture(fx_client, fx_shop)
    await recompute(fx_shop, min_support=0, min_confidence=0)
    e = ids["E"]
    made = await fx_client.post(api(fx_shop, "/conversations"), headers=fx_shop.auth,
                                json={"channel": "call", "subject": "Incoming call", "contact_id": e})
    assert made.status_code == 201, made.text
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    queue = await fx_client.get(f"/t/{fx_shop.slug}/console/panels/queue", headers={"accept": "text/html"})
    assert queue.status_code == 200, queue.text
    assert 'data-testid="caller-upsell" data-product-key="BEAN-1"' in queue.text
    assert "Suggest Espresso beans 1kg" in queue.text and "often bought with Grinder" in queue.text
    await browser_login(fx_client, fx_other_shop.slug, fx_other_shop.email, fx_other_shop.password)
    other = await fx_client.get(f"/t/{fx_other_shop.slug}/console/panels/queue", headers={"accept": "text/html"})
    assert other.status_code == 200 and "caller-upsell" not in other.text
