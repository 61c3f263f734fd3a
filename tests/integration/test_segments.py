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
