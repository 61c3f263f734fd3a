"""The demo shop keeps shop hours on its in-store pickup queue: split shifts, Saturday morning, the demo country's
public holidays and a short day; set up once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app import demo
from app.hours import services
from app.lib.db import resolve_active, tenant_context


async def test_demo_shop_hours(fx_client: Any) -> None:
    await demo.ensure_demo()
    assert await demo.ensure_demo_hours() is True
    assert await demo.ensure_demo_hours() is False  # once: an admin's later changes are kept
    tenant = await resolve_active(demo.DEMO_SLUG)
    assert tenant is not None
    async with tenant_context(tenant):
        [cal] = await services.calendars()
        detail = await services.calendar(cal["id"])
        queue_id = await services.queue_id_of("pickup")
        hours = await services.hours_for_queue(queue_id)
    assert cal["name"] == "Shop hours" and cal["queues"] == ["In-store pickup"]
    assert [(w["opens"], w["closes"]) for w in detail["weekly"] if w["weekday"] == 0] == [("09:00", "13:00"),
                                                                                          ("14:00", "18:00")]
    assert detail["public_holiday_list"] and len(detail["overrides"]) == 1
    assert hours is not None
    monday = dt.datetime(2027, 3, 15, 10, 30, tzinfo=hours.zone)  # a Monday, no holiday
    assert hours.is_open(monday) and not hours.is_open(monday.replace(hour=13, minute=30))
    assert hours.elapsed(monday.replace(hour=0), monday.replace(hour=23)) == 8 * 3600
