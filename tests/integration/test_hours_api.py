"""Business hours through the API: calendars with split shifts, holidays and overrides, validation messages, each
queue's calendar as `hours_for_queue` reads it, and another shop's calendars out of reach."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from app.hours import services
from app.lib.db import tenant_context
from tests.conftest import ShopFixture

SOFIA = ZoneInfo("Europe/Sofia")
SPLIT = [{"weekday": d, "opens": "09:00", "closes": "13:00"} for d in range(5)] + \
        [{"weekday": d, "opens": "14:00", "closes": "18:00"} for d in range(5)] + \
        [{"weekday": 5, "opens": "10:00", "closes": "14:00"}]


def api(shop: ShopFixture, path: str = "") -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def make_calendar(client: Any, shop: ShopFixture, name: str = "Shop hours", **extra: Any) -> dict[str, Any]:
    body = {"name": name, "zone": "Europe/Sofia", "country": "BG", "weekly": SPLIT, **extra}
    resp = await client.post(api(shop, "/calendars"), json=body, headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def general_queue(client: Any, shop: ShopFixture) -> int:
    queues = (await client.get(api(shop, "/queues"), headers=shop.auth)).json()
    return int(next(q["id"] for q in queues if q["key"] == "general"))


async def test_calendar_and_queue_hours(fx_client: Any, fx_shop: ShopFixture) -> None:
    cal = await make_calendar(fx_client, fx_shop)
    assert [w for w in cal["weekly"] if w["weekday"] == 0] == [
        {"weekday": 0, "opens": "09:00", "closes": "13:00"}, {"weekday": 0, "opens": "14:00", "closes": "18:00"}]
    holidays = {h["day"]: h["name"] for h in cal["public_holiday_list"]}
    assert any(day.endswith("-12-25") for day in holidays) and len(holidays) >= 10
    added = await fx_client.post(api(fx_shop, f"/calendars/{cal['id']}/closed-dates"),
                                 json={"day": "2027-02-10", "name": "Stocktaking"}, headers=fx_shop.auth)
    assert added.status_code == 201 and added.json()["closed_dates"][0]["name"] == "Stocktaking"
    over = await fx_client.post(api(fx_shop, f"/calendars/{cal['id']}/overrides"), json={
        "day": "2027-02-12", "name": "Short Friday", "intervals": [{"opens": "09:00", "closes": "12:00"}]},
        headers=fx_shop.auth)
    assert over.status_code == 201 and over.json()["overrides"][0]["intervals"] == [{"opens": "09:00",
                                                                                    "closes": "12:00"}]
    queue_id = await general_queue(fx_client, fx_shop)
    async with tenant_context(fx_shop.tenant):
        assert await services.hours_for_queue(queue_id) is None  # no calendar: around the clock
    linked = await fx_client.put(api(fx_shop, f"/queue-hours/{queue_id}"),
                                 json={"calendar_id": cal["id"], "outside_hours_call": "callback"},
                                 headers=fx_shop.auth)
    assert linked.status_code == 200, linked.text
    assert (linked.json()["calendar_name"], linked.json()["outside_hours_call"]) == ("Shop hours", "callback")
    async with tenant_context(fx_shop.tenant):
        hours = await services.hours_for_queue(queue_id)
    assert hours is not None
    assert hours.is_open(dt.datetime(2027, 2, 9, 10, 0, tzinfo=SOFIA))  # a Tuesday
    assert not hours.is_open(dt.datetime(2027, 2, 9, 13, 30, tzinfo=SOFIA))  # lunch
    assert not hours.is_open(dt.datetime(2027, 2, 10, 10, 0, tzinfo=SOFIA))  # the shop's own closed date
    assert not hours.is_open(dt.datetime(2027, 3, 3, 10, 0, tzinfo=SOFIA))  # Liberation Day (public holiday)
    assert hours.next_open(dt.datetime(2027, 2, 12, 12, 0, tzinfo=SOFIA)) == \
        dt.datetime(2027, 2, 13, 10, 0, tzinfo=SOFIA)  # override: Friday ends at noon; Saturday 10:00
    # An edit shows at once in this process (the cache forgets the tenant's entries on commit).
    await fx_client.put(api(fx_shop, f"/queue-hours/{queue_id}"), json={"calendar_id": None}, headers=fx_shop.auth)
    async with tenant_context(fx_shop.tenant):
        assert await services.hours_for_queue(queue_id) is None
    in_use = await fx_client.put(api(fx_shop, f"/queue-hours/{queue_id}"), json={"calendar_id": cal["id"]},
                                 headers=fx_shop.auth)
    assert in_use.status_code == 200
    refused = await fx_client.delete(api(fx_shop, f"/calendars/{cal['id']}"), headers=fx_shop.auth)
    assert refused.status_code == 409 and "General" in refused.json()["detail"]


async def test_validation_messages(fx_client: Any, fx_shop: ShopFixture) -> None:
    url = api(fx_shop, "/calendars")

    async def bad(body: dict[str, Any]) -> dict[str, Any]:
        resp = await fx_client.post(url, json={"name": "Bad", "zone": "Europe/Sofia", **body}, headers=fx_shop.auth)
        assert resp.status_code == 400, resp.text
        return dict(resp.json())

    overlap = await bad({"weekly": [{"weekday": 0, "opens": "09:00", "closes": "13:00"},
                                    {"weekday": 0, "opens": "12:00", "closes": "18:00"}]})
    assert "overlap" in overlap["detail"] and "09:00-13:00" in overlap["detail"]
    backwards = await bad({"weekly": [{"weekday": 2, "opens": "18:00", "closes": "09:00"}]})
    assert "close after it opens" in backwards["detail"] and backwards["errors"][0]["field"] == "weekly[2][0].closes"
    zone = await bad({"zone": "Mars/Olympus"})
    assert "Unknown time zone" in zone["detail"] and zone["errors"][0]["field"] == "zone"
    country = await bad({"country": "XX"})
    assert country["errors"][0]["field"] == "country"
    not_time = await bad({"weekly": [{"weekday": 0, "opens": "9am", "closes": "17:00"}]})
    assert "HH:MM" in not_time["detail"]
    weekday = await bad({"weekly": [{"weekday": 7, "opens": "09:00", "closes": "17:00"}]})
    assert "weekday" in weekday["detail"]
    ok = await fx_client.post(url, json={"name": "Late", "zone": "Europe/Sofia", "weekly": [
        {"weekday": 4, "opens": "20:00", "closes": "24:00"}, {"weekday": 4, "opens": "09:00", "closes": "20:00"}]},
        headers=fx_shop.auth)
    assert ok.status_code == 201 and [w["closes"] for w in ok.json()["weekly"]] == ["20:00", "24:00"]
    queue_id = await general_queue(fx_client, fx_shop)
    wrong_call = await fx_client.put(api(fx_shop, f"/queue-hours/{queue_id}"), json={"outside_hours_call": "hangup"},
                                     headers=fx_shop.auth)
    assert wrong_call.status_code == 400 and wrong_call.json()["errors"][0]["field"] == "outside_hours_call"


async def test_other_shop_cannot_reach_calendars(fx_client: Any, fx_shop: ShopFixture,
                                                 fx_other_shop: ShopFixture) -> None:
    cal = await make_calendar(fx_client, fx_shop)
    mine = fx_other_shop.auth
    for method, path, body in [
        ("GET", f"/calendars/{cal['id']}", None),
        ("PUT", f"/calendars/{cal['id']}", {"name": "Stolen", "zone": "UTC"}),
        ("DELETE", f"/calendars/{cal['id']}", None),
        ("POST", f"/calendars/{cal['id']}/closed-dates", {"day": "2027-01-05"}),
        ("POST", f"/calendars/{cal['id']}/overrides", {"day": "2027-01-05"}),
    ]:
        resp = await fx_client.request(method, api(fx_other_shop, path), json=body, headers=mine)
        assert resp.status_code == 404, (method, path, resp.text)
    assert (await fx_client.get(api(fx_other_shop, "/calendars"), headers=mine)).json() == []
    # B's queue cannot keep A's calendar id (it does not exist in B's schema).
    b_queue = await general_queue(fx_client, fx_other_shop)
    attach = await fx_client.put(api(fx_other_shop, f"/queue-hours/{b_queue}"), json={"calendar_id": cal["id"]},
                                 headers=mine)
    assert attach.status_code == 400 and attach.json()["errors"][0]["field"] == "calendar_id"
    assert (await fx_client.get(api(fx_shop, f"/calendars/{cal['id']}"), headers=fx_shop.auth)).json()["name"] == \
        "Shop hours"


async def test_cached_hours_never_answer_for_another_shop(fx_client: Any, fx_shop: ShopFixture,
                                                          fx_other_shop: ShopFixture) -> None:
    """Both shops' general queue has the same id; A's calendar (cached in this process) is never B's."""
    cal = await make_calendar(fx_client, fx_shop)
    a_queue, b_queue = await general_queue(fx_client, fx_shop), await general_queue(fx_client, fx_other_shop)
    assert a_queue == b_queue
    await fx_client.put(api(fx_shop, f"/queue-hours/{a_queue}"), json={"calendar_id": cal["id"]}, headers=fx_shop.auth)
    async with tenant_context(fx_shop.tenant):
        assert await services.hours_for_queue(a_queue) is not None
    async with tenant_context(fx_other_shop.tenant):
        assert await services.hours_for_queue(b_queue) is None
    status = await fx_client.get(api(fx_other_shop, f"/queue-hours/{b_queue}/status"), headers=fx_other_shop.auth)
    assert status.json() == {"queue_id": b_queue, "open": True, "opens_at": None}
