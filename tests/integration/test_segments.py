"""Segments: counts of dynamic definitions equal hand-written SQL over a fixture (RFM, bought category, consent,
nested any/not, custom fields, in segment), static lists, the API's shapes and refusals, another shop's segment
-> 404, and merge/erasure of list members."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from app.lib.db import current_uow, tenant_context
from tests.conftest import ShopFixture

NOW = dt.datetime.now(dt.UTC)


def ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


async def _contact(name: str, *, tags: list[str] | None = None, temperature: str | None = None,
                   custom: str = "{}", **extra: Any) -> int:
    conn = current_uow().connection
    cid = await conn.fetchval(
        "INSERT INTO contact (name, tags, temperature, custom, deleted_at, merged_into, last_contact_at) "
        "VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7) RETURNING id", name, tags or [], temperature, custom,
        extra.get("deleted_at"), extra.get("merged_into"), extra.get("last_contact_at"))
    return int(cid)


async def _order(contact: int, placed: dt.datetime, paid: int, *, refunded: int = 0, status: str = "paid",
                 category: str = "", sku: str = "", name: str = "Thing") -> None:
    conn = current_uow().connection
    number = f"N{await conn.fetchval('SELECT count(*) + 1 FROM shop_order')}-{contact}"
    oid = await conn.fetchval(
        "INSERT INTO shop_order (contact, number, currency, status, subtotal, total, paid, refunded, placed_at) "
        "VALUES ($1, $2, 'USD', $3, $4, $4, $4, $5, $6) RETURNING id", contact, number, status, paid, refunded,
        placed)
    await conn.execute("INSERT INTO order_item (shop_order, name, sku, category, quantity, unit_price, line_total) "
                       "VALUES ($1, $2, $3, $4, 1, $5, $5)", oid, name, sku, category, paid)


async def build_fixture() -> dict[str, int]:
    conn = current_uow().connection
    ids = {
        "ann": await _contact("Ann", tags=["VIP"], temperature="hot", custom='{"size": "XL", "visits": "12"}'),
        "bob": await _contact("Bob", temperature="warm"),
        "cid": await _contact("Cid", temperature="cold", last_contact_at=ago(3)),
        "dee": await _contact("Dee", tags=["vip "], custom='{"visits": "3"}'),
        "eve": await _contact("Eve", tags=["VIP"], deleted_at=ago(1)),
        "gus": await _contact("Gus", tags=["VIP"]),
        "hal": await _contact("Hal"),
    }
    ids["fay"] = await _contact("Fay", tags=["VIP"], merged_into=ids["ann"], deleted_at=ago(1))
    for days, paid in ((5, 1000), (20, 2000), (40, 3000)):
        await _order(ids["ann"], ago(days), paid, category="Coffee", sku="BEAN-1", name="Espresso beans")
    await _order(ids["bob"], ago(100), 500, category="Tea")
    await _order(ids["bob"], ago(2), 900, refunded=900, status="cancelled", category="Coffee")
    await _order(ids["cid"], ago(200), 4000, category="Coffee")
    await _order(ids["cid"], ago(10), 5000, refunded=5000, category="Gear")
    await _order(ids["hal"], ago(400), 100, category="coffee ")
    await _order(ids["eve"], ago(1), 99999, category="Coffee")
    for contact, channel, status, at in ((ids["ann"], "sms", "opt_in", ago(30)), (ids["ann"], "sms", "opt_out", ago(2)),
                                         (ids["bob"], "email", "opt_in", ago(5))):
        await conn.execute("INSERT INTO consent_entry (contact, channel, purpose, status, source, at) "
                           "VALUES ($1, $2, 'marketing', $3, 'form', $4)", contact, channel, status, at)
    await conn.execute("INSERT INTO consent_entry (contact, channel, purpose, status, source, at) "
                       "VALUES ($1, 'email', 'transactional', 'opt_out', 'form', now())", ids["cid"])
    for contact, channel, at in ((ids["ann"], "sms", ago(1)), (ids["cid"], "call", ago(3)), (ids["cid"], "note", ago(0)),
                                 (ids["bob"], "email", ago(50))):
        await conn.execute("INSERT INTO interaction (contact, channel, direction, occurred_at) "
                           "VALUES ($1, $2, 'in', $3)", contact, channel, at)
    await conn.execute("INSERT INTO privacy_request (kind, contact, status, due_at) VALUES ('erase', $1, 'done', "
                       "now())", ids["gus"])
    return ids


ALIVE = ("c.deleted_at IS NULL AND c.merged_into IS NULL AND c.id NOT IN "
         "(SELECT contact FROM privacy_request WHERE kind = 'erase' AND status = 'done')")
SALES = "shop_order o JOIN order_status s ON s.key = o.status AND s.counts_as_sale"

# (definition, the same question written by hand in SQL, the names expected)
CASES: list[tuple[dict[str, Any], str, set[str]]] = [
    ({"all": [{"field": "contact.tags", "op": "contains", "value": "VIP"}]},
     f"SELECT id FROM contact c WHERE {ALIVE} AND EXISTS (SELECT 1 FROM unnest(tags) t WHERE lower(trim(t)) = 'vip')",
     {"Ann", "Dee"}),
    ({"all": [{"op": "has_tag", "value": "vip"}]},
     f"SELECT id FROM contact c WHERE {ALIVE} AND EXISTS (SELECT 1 FROM unnest(tags) t WHERE lower(trim(t)) = 'vip')",
     {"Ann", "Dee"}),
    ({"all": [{"field": "contact.bought_category", "op": "contains", "value": "coffee"}]},
     f"SELECT DISTINCT c.id FROM contact c JOIN {SALES} ON o.contact = c.id JOIN order_item i ON i.shop_order = o.id "
     f"WHERE {ALIVE} AND lower(trim(i.category)) = 'coffee'",
     {"Ann", "Cid", "Hal"}),
    ({"all": [{"field": "contact.bought_product", "op": "contains", "value": "bean-1"}]},
     f"SELECT DISTINCT c.id FROM contact c JOIN {SALES} ON o.contact = c.id JOIN order_item i ON i.shop_order = o.id "
     f"WHERE {ALIVE} AND (lower(i.sku) = 'bean-1' OR lower(i.name) = 'bean-1')",
     {"Ann"}),
    # RFM over the four buyers (Ann, Bob, Cid, Hal): R 5/3/4/2, F 5/3/4/3, M 5/3/4/2.
    ({"all": [{"field": "contact.rfm_r", "op": "gt", "value": 3}, {"field": "contact.rfm_m", "op": "equals",
                                                                    "value": 5}]},
     f"""WITH b AS (SELECT o.contact, max(o.placed_at) AS last, count(*) AS n, sum(o.paid - o.refunded) AS money
                   FROM {SALES} JOIN contact bc ON bc.id = o.contact AND bc.deleted_at IS NULL GROUP BY o.contact),
            s AS (SELECT contact, ceil(5.0 * (SELECT count(*) FROM b b2 WHERE b2.last <= b.last) / (SELECT count(*)
                  FROM b)) AS r, ceil(5.0 * (SELECT count(*) FROM b b2 WHERE b2.money <= b.money) / (SELECT count(*)
                  FROM b)) AS m FROM b)
         SELECT c.id FROM contact c JOIN s ON s.contact = c.id WHERE {ALIVE} AND s.r > 3 AND s.m = 5""",
     {"Ann"}),
    ({"any": [{"field": "contact.rfm_f", "op": "equals", "value": 3}]},
     f"""WITH b AS (SELECT o.contact, count(*) AS n FROM {SALES} JOIN contact bc ON bc.id = o.contact
                   AND bc.deleted_at IS NULL GROUP BY o.contact)
         SELECT c.id FROM contact c JOIN b ON b.contact = c.id WHERE {ALIVE}
           AND ceil(5.0 * (SELECT count(*) FROM b b2 WHERE b2.n <= b.n) / (SELECT count(*) FROM b)) = 3""",
     {"Bob", "Hal"}),
    ({"all": [{"field": "contact.consent_marketing_sms", "op": "equals", "value": "opt_out"}]},
     f"""SELECT c.id FROM contact c WHERE {ALIVE} AND (SELECT status FROM consent_entry e WHERE e.contact = c.id
         AND channel = 'sms' AND purpose = 'marketing' ORDER BY at DESC LIMIT 1) = 'opt_out'""",
     {"Ann"}),
    ({"all": [{"field": "contact.consent_marketing_email", "op": "equals", "value": "none"}]},
     f"""SELECT c.id FROM contact c WHERE {ALIVE} AND NOT EXISTS (SELECT 1 FROM consent_entry e
         WHERE e.contact = c.id AND channel = 'email' AND purpose = 'marketing')""",
     {"Ann", "Cid", "Dee", "Hal"}),
    ({"any": [{"not": {"field": "contact.temperature", "op": "in", "value": ["hot", "warm"]}},
              {"all": [{"field": "contact.orders_count", "op": "gt", "value": 2},
                       {"field": "contact.last_order_at", "op": "days_ago_lt", "value": 30}]}]},
     f"""SELECT c.id FROM contact c WHERE {ALIVE} AND (c.temperature IS NULL OR c.temperature NOT IN ('hot', 'warm')
         OR ((SELECT count(*) FROM {SALES} WHERE o.contact = c.id) > 2
             AND (SELECT max(placed_at) FROM {SALES} WHERE o.contact = c.id) > now() - interval '30 days'))""",
     {"Ann", "Cid", "Dee", "Hal"}),
    ({"all": [{"field": "contact.last_order_at", "op": "days_ago_gt", "value": 90}]},
     f"SELECT c.id FROM contact c WHERE {ALIVE} AND (SELECT max(placed_at) FROM {SALES} WHERE o.contact = c.id) "
     "< now() - interval '90 days'",
     {"Bob", "Hal"}),
    ({"all": [{"field": "contact.total_spent", "op": "gt", "value": 1000},
              {"field": "contact.custom.visits", "op": "gt", "value": 5}]},
     f"""SELECT c.id FROM contact c WHERE {ALIVE} AND (SELECT sum(paid - refunded) FROM shop_order o
         WHERE o.contact = c.id) > 1000 AND (c.custom ->> 'visits')::numeric > 5""",
     {"Ann"}),
    ({"all": [{"field": "contact.last_channel", "op": "equals", "value": "call"},
              {"field": "contact.last_contact_at", "op": "days_ago_lt", "value": 7}]},
     f"""SELECT c.id FROM contact c WHERE {ALIVE} AND (SELECT channel FROM interaction i WHERE i.contact = c.id
         AND channel NOT IN ('note', 'file', 'order', 'task', 'system') ORDER BY occurred_at DESC LIMIT 1) = 'call'
         AND c.last_contact_at > now() - interval '7 days'""",
     {"Cid"}),
    ({"not": {"any": [{"field": "contact.name", "op": "contains", "value": "a"},
                      {"field": "contact.custom.size", "op": "is_set"}]}},
     f"SELECT c.id FROM contact c WHERE {ALIVE} AND c.name NOT ILIKE '%a%' AND NOT (c.custom ? 'size')",
     {"Bob", "Cid", "Dee"}),
]


@pytest.mark.parametrize("case", range(len(CASES)))
async def test_segment_counts_equal_hand_written_sql(fx_shop: ShopFixture, case: int) -> None:
    from app.segments import services

    definition, sql, names = CASES[case]
    async with tenant_context(fx_shop.tenant):
        ids = await build_fixture()
        conn = current_uow().connection
        by_id = {v: k.capitalize() for k, v in ids.items()}
        expected = {r["id"] for r in await conn.fetch(sql)}
        assert {by_id[i] for i in expected} == names, "the hand-written SQL disagrees with the fixture's story"
        assert await services.preview(definition) == len(expected)
        seg = await services.create(None, name=f"case {case}", definition=definition)
        assert await services.count(seg["id"]) == len(expected)
        got_sql, args = await services.contact_ids_sql(seg["id"])
        assert {r["id"] for r in await conn.fetch(got_sql, *args)} == expected
        for contact_id in ids.values():
            assert await services.contains(seg["id"], contact_id) == (contact_id in expected)


async def test_rfm_scores_and_in_segment_with_a_static_list(fx_shop: ShopFixture) -> None:
    from app.segments import services

    async with tenant_context(fx_shop.tenant):
        ids = await build_fixture()
        scores = await services.rfm(list(ids.values()))
        assert {k: (scores[v].r, scores[v].f, scores[v].m) for k, v in ids.items() if v in scores} == {
            "ann": (5, 5, 5), "bob": (3, 3, 3), "cid": (4, 4, 4), "hal": (2, 3, 2)}
        assert scores[ids["ann"]].frequency == 3 and scores[ids["ann"]].monetary == 6000
        assert scores[ids["bob"]].recency_days == 100
        lst = await services.create(None, name="Called back", kind="static")
        assert await services.add_members(None, lst["id"], [ids["bob"], ids["dee"]], "selection") == 2
        assert await services.add_members(None, lst["id"], [ids["bob"]]) == 0  # already on it
        both = await services.create(None, name="VIP or called", definition={"any": [
            {"field": "contact.in_segment", "op": "contains", "value": lst["id"]},
            {"field": "contact.tags", "op": "contains", "value": "vip"}]})
        assert await services.count(both["id"]) == 3  # Ann, Bob, Dee
        assert await services.remove_members(None, lst["id"], [ids["dee"]]) == 1
        assert await services.count(both["id"]) == 3  # Dee is still VIP
        assert await services.memberships(ids["bob"]) == [lst["id"], both["id"]]


# -- the API -------------------------------------------------------------------------------------------------------

def api(shop: ShopFixture, path: str = "") -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _seed_api(fx_shop: ShopFixture) -> dict[str, int]:
    async with tenant_context(fx_shop.tenant):
        return await build_fixture()


async def test_api_create_201_with_id_and_count_read_patch_page_delete(fx_client: Any, fx_shop: ShopFixture) -> None:
    ids = await _seed_api(fx_shop)
    body = {"name": "Coffee buyers", "definition": {"all": [
        {"field": "contact.bought_category", "op": "contains", "value": "Coffee"}]}}
    made = await fx_client.post(api(fx_shop, "/segments"), json=body, headers=fx_shop.auth)
    assert made.status_code == 201, made.text
    seg = made.json()
    assert isinstance(seg["id"], int) and seg["count"] == 3 and seg["kind"] == "dynamic"
    assert seg["definition"] == body["definition"]
    listed = (await fx_client.get(api(fx_shop, "/segments"), headers=fx_shop.auth)).json()
    assert [(s["name"], s["count"]) for s in listed] == [("Coffee buyers", 3)]
    one = await fx_client.get(api(fx_shop, f"/segments/{seg['id']}"), headers=fx_shop.auth)
    assert one.status_code == 200 and one.json()["count"] == 3
    page1 = (await fx_client.get(api(fx_shop, f"/segments/{seg['id']}/contacts?limit=2"), headers=fx_shop.auth)).json()
    assert len(page1["items"]) == 2 and page1["next"]
    page2 = (await fx_client.get(api(fx_shop, f"/segments/{seg['id']}/contacts?limit=2&cursor={page1['next']}"),
                                 headers=fx_shop.auth)).json()
    assert page2["next"] is None
    assert {c["name"] for c in page1["items"] + page2["items"]} == {"Ann", "Cid", "Hal"}
    patched = await fx_client.patch(api(fx_shop, f"/segments/{seg['id']}"), json={"definition": {"all": [
        {"field": "contact.bought_category", "op": "contains", "value": "tea"}]}}, headers=fx_shop.auth)
    assert patched.status_code == 200 and patched.json()["count"] == 1
    preview = await fx_client.post(api(fx_shop, "/segments/preview"), json={"definition": {"any": [
        {"field": "contact.in_segment", "op": "contains", "value": seg["id"]},
        {"field": "contact.name", "op": "equals", "value": "dee"}]}}, headers=fx_shop.auth)
    assert preview.status_code == 200 and preview.json() == {"count": 2}
    csv = await fx_client.get(api(fx_shop, f"/segments/{seg['id']}/export.csv"), headers=fx_shop.auth)
    assert csv.status_code == 200 and csv.text.count("\r\n") == 2 and "Bob" in csv.text
    gone = await fx_client.delete(api(fx_shop, f"/segments/{seg['id']}"), headers=fx_shop.auth)
    assert gone.status_code == 204
    assert (await fx_client.get(api(fx_shop, f"/segments/{seg['id']}"), headers=fx_shop.auth)).status_code == 404
    assert ids


@pytest.mark.parametrize(("definition", "field"), [
    ({"all": [{"field": "contact.shoe", "op": "equals", "value": "x"}]}, "definition.all[0].field"),
    ({"any": [{"field": "contact.name", "op": "equals", "value": "x"}, {"field": "contact.name", "op": "nearly"}]},
     "definition.any[1].op"),
    ({"all": [{"not": {"field": "contact.orders_count", "op": "gt", "value": "many"}}]}, "definition.all[0].not.value"),
    ({"all": [{"field": "contact.last_order_at", "op": "equals", "value": "x"}]}, "definition.all[0].op"),
    ({"all": [{"field": "contact.temperature", "op": "equals", "value": "lukewarm"}]}, "definition.all[0].value"),
    ({"all": [{"field": "contact.in_segment", "op": "contains", "value": 999999}]}, "definition.all[0].value"),
    ({"all": [{"op": "time_between", "value": "09:00-17:00"}]}, "definition.all[0].op"),
    ({"all": "everyone"}, "definition"),
    ("not a tree", "definition"),
])
async def test_bad_definitions_are_400_with_the_field_path(fx_client: Any, fx_shop: ShopFixture, definition: Any,
                                                           field: str) -> None:
    for url, body in ((api(fx_shop, "/segments"), {"name": "Bad", "definition": definition}),
                      (api(fx_shop, "/segments/preview"), {"definition": definition})):
        resp = await fx_client.post(url, json=body, headers=fx_shop.auth)
        assert resp.status_code == 400, resp.text
        assert resp.json()["errors"][0]["field"] == field, resp.text
    assert (await fx_client.get(api(fx_shop, "/segments"), headers=fx_shop.auth)).json() == []


async def test_names_are_unique_and_a_used_segment_cannot_be_deleted(fx_client: Any, fx_shop: ShopFixture) -> None:
    a = (await fx_client.post(api(fx_shop, "/segments"), json={"name": "A", "kind": "static"},
                              headers=fx_shop.auth)).json()
    twin = await fx_client.post(api(fx_shop, "/segments"), json={"name": "a", "kind": "static"}, headers=fx_shop.auth)
    assert twin.status_code == 409 and twin.json()["errors"][0]["field"] == "name"
    b = (await fx_client.post(api(fx_shop, "/segments"), json={"name": "B", "definition": {"all": [
        {"field": "contact.in_segment", "op": "contains", "value": a["id"]}]}}, headers=fx_shop.auth)).json()
    cycle = await fx_client.patch(api(fx_shop, f"/segments/{b['id']}"), json={"definition": {"all": [
        {"field": "contact.in_segment", "op": "contains", "value": b["id"]}]}}, headers=fx_shop.auth)
    assert cycle.status_code == 400 and cycle.json()["errors"][0]["field"] == "definition.all[0].value"
    used = await fx_client.delete(api(fx_shop, f"/segments/{a['id']}"), headers=fx_shop.auth)
    assert used.status_code == 409
    dynamic = await fx_client.post(api(fx_shop, f"/segments/{b['id']}/members"), json={"contact_ids": [1]},
                                   headers=fx_shop.auth)
    assert dynamic.status_code == 400


async def test_static_members_through_the_api_and_a_csv_import(fx_client: Any, fx_shop: ShopFixture) -> None:
    from tests.integration.test_orders import make_contact

    ann = await make_contact(fx_client, fx_shop, "Ann", phones=["+14155550101"], emails=["ann@example.com"])
    bob = await make_contact(fx_client, fx_shop, "Bob", phones=["+14155550102"])
    await make_contact(fx_client, fx_shop, "Cid", emails=["cid@example.com"])
    lst = (await fx_client.post(api(fx_shop, "/segments"), json={"name": "Callback list", "kind": "static"},
                                headers=fx_shop.auth)).json()
    assert lst["count"] == 0
    added = await fx_client.post(api(fx_shop, f"/segments/{lst['id']}/members"),
                                 json={"contact_ids": [ann["id"], bob["id"]]}, headers=fx_shop.auth)
    assert added.json() == {"changed": 2, "count": 2}
    unknown = await fx_client.post(api(fx_shop, f"/segments/{lst['id']}/members"), json={"contact_ids": [999999]},
                                   headers=fx_shop.auth)
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "contact_ids"
    removed = await fx_client.post(api(fx_shop, f"/segments/{lst['id']}/members/remove"),
                                   json={"contact_ids": [bob["id"]]}, headers=fx_shop.auth)
    assert removed.json() == {"changed": 1, "count": 1}
    data = b"phone,email\n(415) 555-0102,\n,CID@example.com\n+14155550199,nobody@example.com\n"
    imported = await fx_client.post(api(fx_shop, f"/segments/{lst['id']}/members/import"),
                                    files={"file": ("list.csv", data, "text/csv")}, headers=fx_shop.auth)
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"added": 2, "matched": 2, "unmatched": 2}
    names = {c["name"] for c in (await fx_client.get(api(fx_shop, f"/segments/{lst['id']}/contacts"),
                                                     headers=fx_shop.auth)).json()["items"]}
    assert names == {"Ann", "Bob", "Cid"}
    # The contacts list filtered by the segment (the saved filter), in the API's search and the HTML list.
    async with tenant_context(fx_shop.tenant):
        from app.contacts import services as contacts
        from app.contacts.queries import ContactFilter

        rows, _ = await contacts.search(ContactFilter(segment=lst["id"], q="ann"))
        assert [r["name"] for r in rows] == ["Ann"]


async def test_another_shops_segment_is_404(fx_client: Any, fx_shop: ShopFixture,
                                            fx_other_shop: ShopFixture) -> None:
    theirs = (await fx_client.post(api(fx_other_shop, "/segments"), json={"name": "Theirs", "kind": "static"},
                                   headers=fx_other_shop.auth)).json()
    mine = (await fx_client.post(api(fx_shop, "/segments"), json={"name": "Mine", "kind": "static"},
                                 headers=fx_shop.auth)).json()
    assert theirs["id"] == mine["id"]  # same id in both schemas: the schema decides
    await fx_client.delete(api(fx_shop, f"/segments/{mine['id']}"), headers=fx_shop.auth)
    sid = theirs["id"]
    for method, path, body in (("GET", f"/segments/{sid}", None), ("GET", f"/segments/{sid}/contacts", None),
                               ("PATCH", f"/segments/{sid}", {"name": "x"}), ("DELETE", f"/segments/{sid}", None),
                               ("POST", f"/segments/{sid}/members", {"contact_ids": [1]}),
                               ("GET", f"/segments/{sid}/export.csv", None)):
        resp = await fx_client.request(method, api(fx_shop, path), json=body, headers=fx_shop.auth)
        assert resp.status_code == 404, (method, path, resp.status_code)
    # Their segment in my definition, and their key on my shop.
    used = await fx_client.post(api(fx_shop, "/segments/preview"), json={"definition": {"all": [
        {"field": "contact.in_segment", "op": "contains", "value": sid}]}}, headers=fx_shop.auth)
    assert used.status_code == 400
    assert (await fx_client.get(api(fx_shop, f"/segments/{sid}"), headers=fx_other_shop.auth)).status_code in (401, 403, 404)
    assert (await fx_client.get(api(fx_other_shop, f"/segments/{sid}"), headers=fx_other_shop.auth)).status_code == 200


async def test_merge_moves_list_membership_and_erasure_takes_it_off(fx_client: Any, fx_shop: ShopFixture) -> None:
    from tests.integration.test_orders import make_contact

    keep = await make_contact(fx_client, fx_shop, "Keep", phones=["+14155550111"])
    gone = await make_contact(fx_client, fx_shop, "Gone", phones=["+14155550112"])
    lst = (await fx_client.post(api(fx_shop, "/segments"), json={"name": "L", "kind": "static"},
                                headers=fx_shop.auth)).json()
    await fx_client.post(api(fx_shop, f"/segments/{lst['id']}/members"), json={"contact_ids": [gone["id"]]},
                         headers=fx_shop.auth)
    merged = await fx_client.post(api(fx_shop, f"/contacts/{keep['id']}/merge"), json={"other_id": gone["id"]},
                                  headers=fx_shop.auth)
    assert merged.status_code == 200, merged.text
    items = (await fx_client.get(api(fx_shop, f"/segments/{lst['id']}/contacts"), headers=fx_shop.auth)).json()["items"]
    assert [c["id"] for c in items] == [keep["id"]]
    erased = await fx_client.post(api(fx_shop, f"/contacts/{keep['id']}/erase"), headers=fx_shop.auth)
    assert erased.status_code in (200, 201), erased.text
    assert (await fx_client.get(api(fx_shop, f"/segments/{lst['id']}"), headers=fx_shop.auth)).json()["count"] == 0
    async with tenant_context(fx_shop.tenant):
        assert await current_uow().connection.fetchval("SELECT count(*) FROM segment_member") == 0


async def test_revenue_report_has_a_line_per_segment(fx_client: Any, fx_shop: ShopFixture) -> None:
    from tests.integration.test_reports_revenue import drill, figures, report, story

    await story(fx_client, fx_shop)
    vip = await fx_client.post(api(fx_shop, "/segments"), json={"name": "VIP", "definition": {"all": [
        {"op": "has_tag", "value": "vip"}]}}, headers=fx_shop.auth)
    hot = await fx_client.post(api(fx_shop, "/segments"), json={"name": "Hot", "definition": {"all": [
        {"field": "contact.temperature", "op": "equals", "value": "hot"}]}}, headers=fx_shop.auth)
    by_tag = await report(fx_shop, group="tag")
    by_temperature = await report(fx_shop, group="temperature")
    by_segment = await report(fx_shop, group="segment")
    rows = by_segment["rows"]
    assert figures(rows[f"segment:{vip.json()['id']}"]) == figures(by_tag["rows"]["tag:vip"])
    assert figures(rows[f"segment:{hot.json()['id']}"]) == figures(by_temperature["rows"]["hot"])
    assert rows[f"segment:{vip.json()['id']}"]["label"] == "VIP"
    assert by_segment["totals"]["revenue"] == by_tag["totals"]["revenue"]
    drilled = await drill(fx_shop, f"segment:{vip.json()['id']}", "revenue", group="segment")
    assert sum(r["net"] for r in drilled) == rows[f"segment:{vip.json()['id']}"]["revenue"]


async def test_pages_roles_and_the_contacts_list_filter(fx_client: Any, fx_shop: ShopFixture,
                                                        fx_other_shop: ShopFixture) -> None:
    from tests.conftest import browser_login, csrf_from
    from tests.integration.test_conversations import _operator_keys
    from tests.integration.test_orders import make_contact

    [operator] = await _operator_keys(fx_client, fx_shop, 1)
    refused = await fx_client.post(api(fx_shop, "/segments"), json={"name": "x", "kind": "static"}, headers=operator)
    assert refused.status_code == 403
    assert (await fx_client.get(api(fx_shop, "/segments"), headers=operator)).status_code == 200
    await make_contact(fx_client, fx_shop, "Vera", tags=["vip"])
    await make_contact(fx_client, fx_shop, "Paul")
    seg = (await fx_client.post(api(fx_shop, "/segments"), json={"name": "VIP", "definition": {"all": [
        {"op": "has_tag", "value": "vip"}]}}, headers=fx_shop.auth)).json()
    theirs = (await fx_client.post(api(fx_other_shop, "/segments"), json={"name": "Theirs", "kind": "static"},
                                   headers=fx_other_shop.auth)).json()
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = await fx_client.get(f"/t/{fx_shop.slug}/segments/")
    assert page.status_code == 200 and "VIP" in page.text
    listed = await fx_client.get(f"/t/{fx_shop.slug}/contacts/?segment={seg['id']}")
    assert listed.status_code == 200 and listed.text.count('data-testid="contact-row"') == 1 and "Vera" in listed.text
    other = await fx_client.get(f"/t/{fx_shop.slug}/contacts/?segment={theirs['id'] + 1}")
    assert other.status_code == 200 and 'role="alert"' in other.text and 'data-testid="contact-row"' not in other.text
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/segments/new")
    preview = await fx_client.post(f"/t/{fx_shop.slug}/segments/preview", data={
        "_csrf": token, "definition": '{"all": [{"field": "contact.name", "op": "contains", "value": "a"}]}'})
    assert 'data-count="2"' in preview.text
    bad = await fx_client.post(f"/t/{fx_shop.slug}/segments/preview", data={
        "_csrf": token, "definition": '{"all": [{"field": "contact.nope", "op": "equals", "value": "a"}]}'})
    assert 'data-testid="segment-error"' in bad.text and "definition.all[0].field" in bad.text
    saved = await fx_client.post(f"/t/{fx_shop.slug}/settings/temperature/", data={
        "_csrf": token, "enabled": "1", "hot_days": "20", "hot_orders": "2", "hot_spent": "0", "warm_days": "10",
        "warm_orders": "1", "warm_spent": "0"})
    assert saved.status_code == 400 and "hot_days" in saved.text


async def test_the_segment_list_refreshes_live_for_supervisors(fx_client: Any, fx_shop: ShopFixture) -> None:
    from app.accounts.services import Principal
    from app.segments.live import segment_rows
    from realtime.events import Event

    made = (await fx_client.post(api(fx_shop, "/segments"), json={"name": "Fresh list", "kind": "static"},
                                 headers=fx_shop.auth)).json()
    event = Event(id=1, name="segment.changed", tenant=fx_shop.slug, at=NOW, data={"segment_id": made["id"]},
                  channels=("role:supervisor",))
    owner = Principal(user_id=fx_shop.user_id, email=fx_shop.email, name="Owner", role="supervisor", via="session",
                      credential_id=0)
    operator = Principal(user_id=fx_shop.user_id, email=fx_shop.email, name="Op", role="operator", via="session",
                         credential_id=0)
    async with tenant_context(fx_shop.tenant):
        html = await segment_rows(event, fx_shop.tenant, owner)
        assert html and 'id="segment-rows"' in html and 'hx-swap-oob="true"' in html and "Fresh list" in html
        assert await segment_rows(event, fx_shop.tenant, operator) is None


async def test_upsell_conditions_read_the_suggestion_table(fx_shop: ShopFixture) -> None:
    """app.upsell owns `upsell_suggestion` (the contract's columns); made here only when its migration is absent."""
    from app.segments import services

    async with tenant_context(fx_shop.tenant):
        ids = await build_fixture()
        conn = current_uow().connection
        await conn.execute("""CREATE TABLE IF NOT EXISTS upsell_suggestion (
            id serial PRIMARY KEY, contact integer NOT NULL REFERENCES contact (id), kind varchar(8) NOT NULL,
            product_key varchar(200) NOT NULL, product_name varchar(200) NOT NULL, reason jsonb NOT NULL,
            score float NOT NULL, due_on date, computed_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (contact, kind, product_key))""")
        for contact, kind, key, name, due in ((ids["ann"], "pair", "gr-9", "Grinder", None),
                                              (ids["bob"], "reorder", "tea-1", "Green tea", NOW.date()),
                                              (ids["hal"], "reorder", "bean-1", "Beans", (NOW + dt.timedelta(days=9)
                                                                                          ).date())):
            await conn.execute("INSERT INTO upsell_suggestion (contact, kind, product_key, product_name, reason, "
                               "score, due_on, computed_at) VALUES ($1, $2, $3, $4, '{}', 1, $5, now())",
                               contact, kind, key, name, due)
        assert await services.preview({"all": [{"field": "upsell.suggested_product", "op": "contains",
                                                "value": "grinder"}]}) == 1
        assert await services.preview({"all": [{"field": "upsell.reorder_due", "op": "equals", "value": "yes"}]}) == 1
        # Hal's reorder is not due for nine days: the card shows it nowhere yet, so it is no suggestion yet.
        assert await services.preview({"all": [{"field": "upsell.suggested_product", "op": "is_set"}]}) == 2
