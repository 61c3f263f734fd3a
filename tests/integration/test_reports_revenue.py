"""The revenue reports against a hand-built shop with known answers: orders with payments and refunds, touches on
several channels at different distances before the orders, new and returning clients, orders either side of
midnight and of the period's ends on the DST day of Europe/Sofia (2026-10-25: 04:00 EEST -> 03:00 EET).

The shop's calendar is Europe/Sofia; the period is 2026-10-24 .. 2026-10-26 (UTC [10-23T21:00, 10-26T22:00)).
Net totals (payments - refunds) of the USD orders placed in it: A1 17500, A2 8000, B1 3000, B2 0 (refunded and
cancelled), C1 0 (unpaid), D2 2200 -> 30700 over 5 sales (B2 is no sale)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from typing import Any

from app import demo
from app.accounts import services as accounts
from app.accounts.tables import User
from app.conversations import services as conversations
from app.conversations.tables import Conversation
from app.lib.db import current_uow, resolve_active, tenant_context
from app.reports import revenue_facts
from app.reports.kit import REPORTS, period
from app.timeline import services as timeline
from tests.conftest import ShopFixture, browser_login, csrf_from
from tests.integration.test_conversations import _operator_keys
from tests.integration.test_orders import api, make_contact, make_order

ZONE = "Europe/Sofia"
FROM, TO = "2026-10-24", "2026-10-26"


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


async def _user(shop: ShopFixture, name: str) -> int:
    async with tenant_context(shop.tenant):
        rows = await User.insert(User(email=f"{name.lower()}-{time.monotonic_ns()}@{shop.slug}.example", name=name,
                                      role="operator")).returning(User.id)
    return int(rows[0]["id"])


async def _order(client: Any, shop: ShopFixture, contact: dict[str, Any], placed: str, price: int, *,
                 paid: int = 0, refunded: int = 0, currency: str = "USD", status: str = "") -> int:
    order = await make_order(client, shop, contact["id"], placed_at=utc(placed).isoformat(), currency=currency,
                             items=[{"name": "Thing", "quantity": 1, "unit_price": price}], shipping=0, discount=0)
    for kind, amount in (("payments", paid), ("refunds", refunded)):
        if amount:
            resp = await client.post(api(shop, f"/orders/{order['id']}/{kind}"),
                                     json={"amount": amount, "method": "card"}, headers=shop.auth)
            assert resp.status_code == 200, resp.text
    if status:
        resp = await client.post(api(shop, f"/orders/{order['id']}/status"), json={"status": status},
                                 headers=shop.auth)
        assert resp.status_code == 200, resp.text
    return int(order["id"])


async def _touch(shop: ShopFixture, contact_id: int, channel: str, direction: str, at: str, *,
                 by: int | None = None, assigned_to: int | None = None) -> None:
    """A timeline item: written by staff member `by`, or by the customer in a conversation assigned to
    `assigned_to`."""
    async with tenant_context(shop.tenant):
        links: dict[str, Any] = {}
        if assigned_to is not None:
            conv = await conversations.open_conversation(channel=channel,
                                                         subject="Question")
            await Conversation.update({Conversation.assigned_to: assigned_to, Conversation.status: "closed"}).where(
                Conversation.id == conv["id"])
            links = {"conversation_id": conv["id"]}
        await timeline.record(contact_id, channel, direction, "touch", occurred_at=utc(at), links=links,
                              actor_type="user" if by else "customer", actor_id=by)


async def story(client: Any, shop: ShopFixture) -> dict[str, Any]:
    resp = await client.put(api(shop, "/workspace"), json={"timezone": ZONE, "currency": "USD"}, headers=shop.auth)
    assert resp.status_code == 200, resp.text
    olga, omar = await _user(shop, "Olga"), await _user(shop, "Omar")
    ada = await make_contact(client, shop, "Ada", tags=["vip", "wholesale"], temperature="hot")
    bob = await make_contact(client, shop, "Bob", tags=["vip"], temperature="cold")
    cyd = await make_contact(client, shop, "Cyd")
    dan = await make_contact(client, shop, "Dan", temperature="warm")
    ids: dict[str, Any] = {"olga": olga, "omar": omar, "ada": ada["id"], "bob": bob["id"], "cyd": cyd["id"],
                           "dan": dan["id"]}
    # Ada: returning (A0 in September); A1 just after midnight of the 24th in Sofia (still the 23rd in UTC)
    ids["A0"] = await _order(client, shop, ada, "2026-09-01T10:00", 5000, paid=5000)
    await _touch(shop, ada["id"], "call", "out", "2026-10-20T10:00", by=omar)
    await _touch(shop, ada["id"], "sms", "in", "2026-10-23T12:00", assigned_to=olga)      # A1's last touch: Olga
    await _touch(shop, ada["id"], "call", "internal", "2026-10-23T20:00", by=omar)        # not a touch: internal
    await _touch(shop, ada["id"], "note", "internal", "2026-10-23T20:30", by=omar)        # not a touch: a note
    ids["A1"] = await _order(client, shop, ada, "2026-10-23T21:30", 20000, paid=20000, refunded=2500)
    await _touch(shop, ada["id"], "email", "out", "2026-10-24T09:00", by=omar)            # A2's last touch: Omar
    # A2 on the DST day, 03:30 EEST, before the clocks go back
    ids["A2"] = await _order(client, shop, ada, "2026-10-25T00:30", 8000, paid=8000)
    # Bob: new; his chat is 8 days before B1 (outside the 7-day window): no touch, the order's creator (the owner)
    await _touch(shop, bob["id"], "chat", "in", "2026-10-17T21:00", by=None)
    ids["B1"] = await _order(client, shop, bob, "2026-10-25T21:30", 3000, paid=3000)      # 23:30 EET on the 25th
    # B2: refunded in full and cancelled, 23:59 EET on the 26th; Bob's chat is 9 days before it: no touch either
    ids["B2"] = await _order(client, shop, bob, "2026-10-26T21:59", 4000, paid=4000, refunded=4000,
                             status="cancelled")
    # Cyd: new, unpaid, called exactly 7 days before (the window's edge counts); her EUR order is not in the USD
    # report
    await _touch(shop, cyd["id"], "call", "in", "2026-10-17T10:00")
    ids["C1"] = await _order(client, shop, cyd, "2026-10-24T10:00", 1000)
    ids["C2"] = await _order(client, shop, cyd, "2026-10-25T10:00", 9900, paid=9900, currency="EUR")
    # Dan: orders one minute before the period and at its very end are outside; D2's call is in Omar's conversation
    ids["D0"] = await _order(client, shop, dan, "2026-10-23T20:59", 700, paid=700)        # 23:59 EEST on the 23rd
    ids["D1"] = await _order(client, shop, dan, "2026-10-26T22:00", 600, paid=600)        # 00:00 EET on the 27th
    await _touch(shop, dan["id"], "call", "in", "2026-10-24T11:00", assigned_to=omar)
    ids["D2"] = await _order(client, shop, dan, "2026-10-24T12:00", 2200, paid=2200)
    return ids


async def report(shop: ShopFixture, name: str = "revenue", **params: str) -> dict[str, Any]:
    async with tenant_context(shop.tenant):
        built = await REPORTS[name].build(period(FROM, TO, ZONE), params)
    return {"rows": {r["key"]: r for r in built.rows}, "order": [r["key"] for r in built.rows],
            "totals": built.totals, "notes": built.notes, "params": built.params}


async def drill(shop: ShopFixture, row: str, column: str, name: str = "revenue",
                **params: str) -> list[dict[str, Any]]:
    async with tenant_context(shop.tenant):
        _, rows = await REPORTS[name].drill(period(FROM, TO, ZONE), params, row, column)
    return rows


def figures(row: dict[str, Any]) -> tuple[int, int, int | None]:
    return row["orders"], row["revenue"], row["aov"]


async def test_revenue_per_group_exact_and_total_is_sum_of_net_order_totals(fx_client: Any,
                                                                           fx_shop: ShopFixture) -> None:
    ids = await story(fx_client, fx_shop)
    # the total equals the net totals (payments - refunds) of the orders placed in the period, read from the API
    placed = []
    for key in ("A0", "A1", "A2", "B1", "B2", "C1", "C2", "D0", "D1", "D2"):
        got = (await fx_client.get(api(fx_shop, f"/orders/{ids[key]}"), headers=fx_shop.auth)).json()
        placed.append(got)
    start, end = utc("2026-10-23T21:00"), utc("2026-10-26T22:00")
    in_period = [o for o in placed if o["currency"] == "USD"
                 and start <= dt.datetime.fromisoformat(o["placed_at"].replace("Z", "+00:00")) < end]
    assert sorted(o["id"] for o in in_period) == sorted(ids[k] for k in ("A1", "A2", "B1", "B2", "C1", "D2"))

    by_channel = await report(fx_shop, group="channel")
    assert by_channel["totals"]["revenue"] == sum(o["paid"] - o["refunded"] for o in in_period) == 30700
    assert (by_channel["totals"]["orders"], by_channel["totals"]["aov"]) == (5, 6140)
    assert by_channel["order"] == ["call", "sms", "email", "none"]
    rows = by_channel["rows"]
    assert figures(rows["sms"]) == (1, 17500, 17500)
    assert figures(rows["email"]) == (1, 8000, 8000)
    assert figures(rows["call"]) == (2, 2200, 1100)            # C1 (the window's edge) and D2
    assert figures(rows["none"]) == (1, 3000, 3000)            # B1 (chat 8 days before) and B2 (no sale)
    assert any("7 days" in n for n in by_channel["notes"]) and any("EUR: 1" in n for n in by_channel["notes"])

    by_operator = (await report(fx_shop, group="operator"))["rows"]
    assert {k: figures(r) for k, r in by_operator.items()} == {
        f"user:{ids['olga']}": (1, 17500, 17500),               # handled the SMS conversation before A1
        f"user:{ids['omar']}": (2, 10200, 5100),                # wrote the email before A2; D2's call was his
        f"user:{fx_shop.user_id}": (2, 3000, 1500),             # no touch: who entered the order
    }
    assert by_operator[f"user:{ids['olga']}"]["label"] == "Olga"

    by_temperature = await report(fx_shop, group="temperature")
    assert by_temperature["order"] == ["hot", "warm", "cold", "none"]
    assert {k: figures(r) for k, r in by_temperature["rows"].items()} == {
        "hot": (2, 25500, 12750), "warm": (1, 2200, 2200), "cold": (1, 3000, 3000), "none": (1, 0, 0)}

    by_tag = await report(fx_shop, group="tag")
    assert {k: figures(r) for k, r in by_tag["rows"].items()} == {
        "tag:vip": (3, 28500, 9500), "tag:wholesale": (2, 25500, 12750), "none": (2, 2200, 1100)}
    assert by_tag["totals"]["revenue"] == 30700                 # an order under two tags is counted once in total

    by_customer = (await report(fx_shop, group="customer"))["rows"]
    assert figures(by_customer["new"]) == (2, 3000, 1500)       # B1, C1
    assert figures(by_customer["returning"]) == (3, 27700, 9233)  # A1, A2, D2 (+ B2, no sale)

    by_day = await report(fx_shop, group="day")
    assert by_day["order"] == ["2026-10-24", "2026-10-25", "2026-10-26"]
    assert [figures(by_day["rows"][k]) for k in by_day["order"]] == [(3, 19700, 6566), (2, 11000, 5500),
                                                                      (0, 0, None)]
    by_week = await report(fx_shop, group="week")
    assert [(k, figures(by_week["rows"][k])) for k in by_week["order"]] == [
        ("2026-10-19", (5, 30700, 6140)), ("2026-10-26", (0, 0, None))]
    by_month = await report(fx_shop, group="month")
    assert [(k, figures(by_month["rows"][k])) for k in by_month["order"]] == [("2026-10-01", (5, 30700, 6140))]

    # the EUR report holds only the EUR order
    eur = await report(fx_shop, group="channel", currency="EUR")
    assert figures(eur["totals"]) == (1, 9900, 9900) and eur["params"]["currency"] == "EUR"


async def test_drill_rows_sum_to_the_number_clicked(fx_client: Any, fx_shop: ShopFixture) -> None:
    ids = await story(fx_client, fx_shop)
    for group in ("channel", "operator", "temperature", "tag", "customer", "day", "week"):
        built = await report(fx_shop, group=group)
        for key, row in built["rows"].items():
            revenue_rows = await drill(fx_shop, key, "revenue", group=group)
            assert sum(r["net"] for r in revenue_rows) == row["revenue"], (group, key)
            assert len(await drill(fx_shop, key, "orders", group=group)) == row["orders"], (group, key)
        total_rows = await drill(fx_shop, "_total", "revenue", group=group)
        assert sum(r["net"] for r in total_rows) == built["totals"]["revenue"] == 30700
    none_rows = await drill(fx_shop, "none", "revenue", group="channel")
    assert [r["number"] for r in none_rows] == [f"SB-{ids['B1']:06d}", f"SB-{ids['B2']:06d}"]  # oldest first
    assert none_rows[0]["href"] == f"/t/{fx_shop.slug}/orders/{ids['B1']}"
    assert none_rows[0]["contact_href"] == f"/t/{fx_shop.slug}/contacts/{ids['bob']}"
    none_orders = await drill(fx_shop, "none", "orders", group="channel")
    assert [r["key"] for r in none_orders] == [str(ids["B1"])]                      # B2 is no sale


async def test_top_clients_and_clients_who_stopped_buying(fx_client: Any, fx_shop: ShopFixture) -> None:
    ids = await story(fx_client, fx_shop)
    top = await report(fx_shop, "revenue_clients")
    assert top["order"] == [str(ids[k]) for k in ("ada", "bob", "dan", "cyd")]
    ada = top["rows"][str(ids["ada"])]
    assert (ada["orders"], ada["revenue"], ada["ltv"]) == (2, 25500, 30500)       # A0 + A1 + A2
    assert top["rows"][str(ids["dan"])]["ltv"] == 2900                            # D1 is after the period
    assert ada["href"] == f"/t/{fx_shop.slug}/contacts/{ids['ada']}"
    ltv_rows = await drill(fx_shop, str(ids["ada"]), "ltv", "revenue_clients")
    assert sum(r["net"] for r in ltv_rows) == 30500 and len(ltv_rows) == 3
    assert sum(r["net"] for r in await drill(fx_shop, str(ids["ada"]), "revenue", "revenue_clients")) == 25500
    assert top["totals"]["revenue"] == 30700

    # Eve bought twice, long ago; Fay's gap is long but she is not overdue yet
    eve = await make_contact(fx_client, fx_shop, "Eve")
    fay = await make_contact(fx_client, fx_shop, "Fay")
    await _order(fx_client, fx_shop, eve, "2026-01-10T10:00", 1000, paid=1000)
    await _order(fx_client, fx_shop, eve, "2026-02-10T10:00", 1500, paid=1500)
    await _order(fx_client, fx_shop, fay, "2026-06-01T10:00", 1000, paid=1000)
    await _order(fx_client, fx_shop, fay, "2026-09-01T10:00", 1000, paid=1000)
    lapsed = await report(fx_shop, "revenue_lapsed")
    # Dan: 2 orders 15 h apart, the last 2.4 days before the end (more than twice his interval); Eve: 258 days.
    # Biggest lifetime value first.
    assert lapsed["order"] == [str(ids["dan"]), str(eve["id"])]
    eve_row = lapsed["rows"][str(eve["id"])]
    assert (eve_row["orders"], eve_row["ltv"], eve_row["interval_days"], eve_row["days_since"]) == (2, 2500, 31, 258)
    assert any("2 times their usual interval" in n and "180 days" in n for n in lapsed["notes"])
    assert sum(r["net"] for r in await drill(fx_shop, str(eve["id"]), "ltv", "revenue_lapsed")) == 2500
    assert len(await drill(fx_shop, str(eve["id"]), "orders", "revenue_lapsed")) == 2

    async with tenant_context(fx_shop.tenant):
        await revenue_facts.save_settings(revenue_facts.check_settings(7, 2.0, 50))
    assert str(fay["id"]) in (await report(fx_shop, "revenue_lapsed"))["rows"]   # 55 days > 50


async def test_settings_api_page_audit_roles_and_other_shops(fx_client: Any, fx_shop: ShopFixture,
                                                            fx_other_shop: ShopFixture) -> None:
    url = api(fx_shop, "/revenue-report/settings")
    got = await fx_client.get(url, headers=fx_shop.auth)
    assert got.status_code == 200 and got.json() == {"touch_days": 7, "lapsed_factor": 2.0, "lapsed_days": 180}
    bad = await fx_client.put(url, json={"touch_days": 0, "lapsed_factor": 2, "lapsed_days": 90}, headers=fx_shop.auth)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "touch_days" and "1 to 365" in bad.json()["detail"]
    bad = await fx_client.put(url, json={"touch_days": 3, "lapsed_factor": 0.5, "lapsed_days": 90},
                              headers=fx_shop.auth)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "lapsed_factor"
    ok = await fx_client.put(url, json={"touch_days": 3, "lapsed_factor": 1.5, "lapsed_days": 90}, headers=fx_shop.auth)
    assert ok.status_code == 200 and ok.json() == {"touch_days": 3, "lapsed_factor": 1.5, "lapsed_days": 90}
    audit = (await fx_client.get(api(fx_shop, "/audit"), headers=fx_shop.auth)).json()
    entries = audit["items"] if isinstance(audit, dict) else audit
    assert any(e["action"] == "revenue_settings.updated" for e in entries)

    operator = (await _operator_keys(fx_client, fx_shop, 1))[0]
    assert (await fx_client.get(url, headers=operator)).status_code == 403
    assert (await fx_client.put(url, json={"touch_days": 9, "lapsed_factor": 2, "lapsed_days": 9},
                                headers=operator)).status_code == 403
    # another shop's key: the same 404 as an unknown shop; its own settings are its own
    assert (await fx_client.get(url, headers=fx_other_shop.auth)).status_code == 404
    assert (await fx_client.put(url, json={"touch_days": 30, "lapsed_factor": 2, "lapsed_days": 9},
                                headers=fx_other_shop.auth)).status_code == 404
    theirs = await fx_client.get(api(fx_other_shop, "/revenue-report/settings"), headers=fx_other_shop.auth)
    assert theirs.json()["touch_days"] == 7
    assert (await fx_client.get(url, headers=fx_shop.auth)).json()["touch_days"] == 3

    # the page: the same rules, refusals shown on the form
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page_url = f"/t/{fx_shop.slug}/settings/revenue-report/"
    page = await fx_client.get(page_url)
    assert page.status_code == 200 and 'value="3"' in page.text and "/reports/revenue" in page.text
    token = await csrf_from(fx_client, page_url)
    refused = await fx_client.post(page_url, data={"_csrf": token, "touch_days": "400", "lapsed_factor": "2",
                                                   "lapsed_days": "90"})
    assert refused.status_code == 400 and 'data-testid="error"' in refused.text
    saved = await fx_client.post(page_url, data={"_csrf": token, "touch_days": "10", "lapsed_factor": "2,5",
                                                 "lapsed_days": "120"})
    assert saved.status_code == 200 and 'data-testid="notice"' in saved.text
    assert (await fx_client.get(url, headers=fx_shop.auth)).json() == {"touch_days": 10, "lapsed_factor": 2.5,
                                                                       "lapsed_days": 120}
    orders_page = await fx_client.get(f"/t/{fx_shop.slug}/orders/")
    assert 'data-testid="revenue-settings"' in orders_page.text and 'data-testid="revenue-report"' in orders_page.text


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _major(cents: int | None) -> str:
    return "" if cents is None else f"{cents // 100}.{cents % 100:02d}"


async def test_api_json_csv_drill_and_other_shops(fx_client: Any, fx_shop: ShopFixture,
                                                  fx_other_shop: ShopFixture) -> None:
    ids = await story(fx_client, fx_shop)
    # the other shop sells too, on the same days: none of it is counted here
    resp = await fx_client.put(api(fx_other_shop, "/workspace"), json={"timezone": ZONE}, headers=fx_other_shop.auth)
    assert resp.status_code == 200
    stranger = await make_contact(fx_client, fx_other_shop, "Stranger")
    await _order(fx_client, fx_other_shop, stranger, "2026-10-24T12:00", 99900, paid=99900)

    url = api(fx_shop, "/reports/revenue")
    params = {"from": FROM, "to": TO, "group": "channel"}
    got = await fx_client.get(url, params=params, headers=fx_shop.auth)
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["from"], body["to"], body["zone"]) == (FROM, TO, ZONE)
    assert body["totals"]["revenue"] == 30700 and body["totals"]["orders"] == 5
    assert [c["key"] for c in body["columns"]] == ["label", "orders", "revenue", "aov"]
    assert [c["drill"] for c in body["columns"]] == [False, True, True, False]
    assert all(c["formula"] for c in body["columns"][1:])
    # CSV: exactly the JSON's rows and columns, money in major units, then the totals line
    csv_resp = await fx_client.get(url, params={**params, "format": "csv"}, headers=fx_shop.auth)
    assert csv_resp.status_code == 200 and csv_resp.headers["content-type"].startswith("text/csv")
    assert f'filename="revenue_{FROM}_{TO}.csv"' in csv_resp.headers["content-disposition"]
    lines = _csv_rows(csv_resp.text)
    assert [(r["label"], r["orders"], r["revenue"], r["aov"]) for r in lines] == [
        *[(r["label"], str(r["orders"]), _major(r["revenue"]), _major(r["aov"])) for r in body["rows"]],
        ("total", "5", "307.00", "61.40")]

    # drill through the API: rows sum to the number; CSV of the drill equals its JSON
    drill_url = api(fx_shop, "/reports/revenue/drill")
    for row in body["rows"]:
        d = await fx_client.get(drill_url, params={**params, "row": row["key"], "column": "revenue"},
                                headers=fx_shop.auth)
        assert d.status_code == 200, d.text
        assert sum(r["net"] for r in d.json()["rows"]) == row["revenue"]
        d_csv = await fx_client.get(drill_url, params={**params, "row": row["key"], "column": "revenue",
                                                       "format": "csv"}, headers=fx_shop.auth)
        assert [(r["number"], r["net"]) for r in _csv_rows(d_csv.text)] == [
            (r["number"], _major(r["net"])) for r in d.json()["rows"]]
    bad = await fx_client.get(drill_url, params={**params, "row": "sms", "column": "aov"}, headers=fx_shop.auth)
    assert bad.status_code == 400 and "aov" in bad.json()["detail"]
    bad = await fx_client.get(url, params={**params, "group": "weather"}, headers=fx_shop.auth)
    assert bad.status_code == 400 and "weather" in bad.json()["detail"]
    bad = await fx_client.get(url, params={**params, "currency": "XXY"}, headers=fx_shop.auth)
    assert bad.status_code == 400

    clients = (await fx_client.get(api(fx_shop, "/reports/revenue_clients"), params={"from": FROM, "to": TO},
                                   headers=fx_shop.auth)).json()
    assert [r["key"] for r in clients["rows"]] == [str(ids[k]) for k in ("ada", "bob", "dan", "cyd")]
    lapsed = await fx_client.get(api(fx_shop, "/reports/revenue_lapsed"), params={"from": FROM, "to": TO,
                                                                                  "format": "csv"},
                                 headers=fx_shop.auth)
    assert [r["label"] for r in _csv_rows(lapsed.text)] == ["Dan", "total"]

    # another shop's key: the unknown shop's 404 on the report, its CSV and its drill; an operator: 403
    for path, extra in (("/reports/revenue", {}), ("/reports/revenue", {"format": "csv"}),
                        ("/reports/revenue/drill", {"row": "_total", "column": "revenue"}),
                        ("/reports/revenue_clients", {}), ("/reports/revenue_lapsed", {})):
        foreign = await fx_client.get(api(fx_shop, path), params={**params, **extra}, headers=fx_other_shop.auth)
        unknown = await fx_client.get(f"/t/no_such_shop/api/v1{path}", params={**params, **extra},
                                      headers=fx_other_shop.auth)
        assert foreign.status_code == unknown.status_code == 404 and foreign.json() == unknown.json()
    operator = (await _operator_keys(fx_client, fx_shop, 1))[0]
    assert (await fx_client.get(url, params=params, headers=operator)).status_code == 403
    assert (await fx_client.get(drill_url, params={**params, "row": "_total", "column": "revenue"},
                                headers=operator)).status_code == 403
    # the other shop's own report holds only its own order; the same contact id there is their own client
    theirs = (await fx_client.get(api(fx_other_shop, "/reports/revenue"), params=params,
                                  headers=fx_other_shop.auth)).json()
    assert theirs["totals"]["revenue"] == 99900 and theirs["totals"]["orders"] == 1
    leak = await fx_client.get(api(fx_other_shop, "/reports/revenue_clients/drill"),
                               params={**params, "row": str(ids["ada"]), "column": "ltv"},
                               headers=fx_other_shop.auth)
    assert leak.status_code == 200 and [r["contact_name"] for r in leak.json()["rows"]] == ["Stranger"]


async def test_the_demo_shop_has_revenue_over_weeks_on_every_channel(fx_db: str) -> None:
    """`make run`'s demo shop: orders over the last 90 days, credited to calls, SMS, emails and chats."""
    await demo.ensure_demo()
    tenant = await resolve_active(demo.DEMO_SLUG)
    assert tenant is not None
    async with tenant_context(tenant):
        zone = (await accounts.workspace())["timezone"]
        today = dt.datetime.now(dt.UTC).date()
        span = period((today - dt.timedelta(days=89)).isoformat(), today.isoformat(), zone)
        by_channel = await REPORTS["revenue"].build(span, {"group": "channel"})
        by_week = await REPORTS["revenue"].build(span, {"group": "week"})
        net = await current_uow().connection.fetchval(
            "SELECT sum(paid - refunded) FROM shop_order WHERE placed_at >= $1 AND placed_at < $2 AND currency = $3",
            span.start, span.end, by_channel.params["currency"])
    assert {"call", "sms", "email", "chat"} <= {r["key"] for r in by_channel.rows if r["orders"]}
    assert by_channel.totals["revenue"] == net > 0
    assert sum(1 for r in by_week.rows if r["orders"]) >= 8


async def test_pages_show_money_in_the_shops_currency_and_drill_to_the_orders(fx_client: Any,
                                                                             fx_shop: ShopFixture) -> None:
    ids = await story(fx_client, fx_shop)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = await fx_client.get(f"/t/{fx_shop.slug}/reports/revenue", params={"from": FROM, "to": TO,
                                                                             "group": "operator"})
    assert page.status_code == 200, page.text
    assert 'data-testid="report-chart"' in page.text and 'data-testid="report-group"' in page.text
    assert '<option value="operator" selected>' in page.text
    assert "$307.00" in page.text and "$175.00" in page.text and "$61.40" in page.text   # total, Olga, average
    assert f"/t/{fx_shop.slug}/reports/revenue_clients" in page.text                     # see also
    assert f"row=user%3A{ids['olga']}&column=revenue" in page.text
    drill = await fx_client.get(f"/t/{fx_shop.slug}/reports/revenue/drill",
                                params={"from": FROM, "to": TO, "group": "operator", "row": f"user:{ids['olga']}",
                                        "column": "revenue"})
    assert drill.status_code == 200
    assert drill.text.count('data-testid="drill-row"') == 1 and "$175.00" in drill.text
    assert f'href="/t/{fx_shop.slug}/orders/{ids["A1"]}"' in drill.text
    assert f'href="/t/{fx_shop.slug}/contacts/{ids["ada"]}"' in drill.text
    clients = await fx_client.get(f"/t/{fx_shop.slug}/reports/revenue_clients", params={"from": FROM, "to": TO})
    assert f'href="/t/{fx_shop.slug}/contacts/{ids["ada"]}" data-testid="row-link"' in clients.text
    assert "$305.00" in clients.text                                                     # Ada's lifetime value
    # the order behind the drill row opens
    assert (await fx_client.get(f"/t/{fx_shop.slug}/orders/{ids['A1']}")).status_code == 200
