"""The admin's business-hours pages: add a calendar with split shifts from the week grid, see its holidays, add a
closed date and an override, give a queue the calendar; mistakes come back as a 400 with the message."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from tests.conftest import ShopFixture, browser_login, csrf_from
from tests.integration.test_hours_api import api, general_queue


async def test_calendar_pages(fx_client: Any, fx_shop: ShopFixture) -> None:
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    base = f"/t/{fx_shop.slug}/settings/hours/"
    page = await fx_client.get(base, headers={"accept": "text/html"})
    assert page.status_code == 200 and 'data-testid="new-calendar"' in page.text and 'data-testid="nav-hours"' in \
        page.text
    token = await csrf_from(fx_client, base)
    html = {"accept": "text/html"}
    week = {f"day_{d}": "09:00-13:00, 14:00-18:00" for d in range(5)} | {"day_5": "10:00-14:00"}
    bad = await fx_client.post(base, data={"_csrf": token, "name": "Shop hours", "zone": "Europe/Sofia",
                                           "country": "BG", "public_holidays": "on", **week,
                                           "day_6": "10:00-12:00, 11:00-13:00"}, headers=html)
    assert bad.status_code == 400 and "overlap" in bad.text and 'value="Shop hours"' in bad.text
    made = await fx_client.post(base, data={"_csrf": token, "name": "Shop hours", "zone": "Europe/Sofia",
                                            "country": "BG", "public_holidays": "on", **week}, headers=html)
    assert made.status_code == 201 or made.status_code == 200, made.text
    assert 'value="09:00-13:00, 14:00-18:00"' in made.text and 'data-testid="public-holidays"' in made.text
    cal = (await fx_client.get(api(fx_shop, "/calendars"), headers=fx_shop.auth)).json()[0]
    url = f"{base}{cal['id']}"
    closed = await fx_client.post(f"{url}/closed-dates", data={"_csrf": token, "day": "2027-02-10",
                                                                "name": "Stocktaking"}, headers=html)
    assert "Stocktaking" in closed.text
    override = await fx_client.post(f"{url}/overrides", data={"_csrf": token, "day": "2027-02-12",
                                                               "name": "Short Friday", "intervals": "09:00-12:00"},
                                    headers=html)
    assert "Short Friday" in override.text and "09:00-12:00" in override.text
    wrong = await fx_client.post(f"{url}/overrides", data={"_csrf": token, "day": "2027-02-13",
                                                            "intervals": "12:00-09:00"}, headers=html)
    assert wrong.status_code == 400 and "close after it opens" in wrong.text
    queue_id = await general_queue(fx_client, fx_shop)
    linked = await fx_client.post(f"{base}queues/{queue_id}", data={"_csrf": token, "calendar_id": str(cal["id"]),
                                                                     "outside_hours_call": "voicemail",
                                                                     "auto_reply": "Closed; back {opens}."},
                                  headers=html)
    assert linked.status_code in (200, 201) and "saved" in linked.text
    setting = next(q for q in (await fx_client.get(api(fx_shop, "/queue-hours"), headers=fx_shop.auth)).json()
                   if q["queue_id"] == queue_id)
    assert setting["calendar_id"] == cal["id"] and setting["auto_reply"] == "Closed; back {opens}."
    refused = await fx_client.post(f"{url}/delete", data={"_csrf": token}, headers=html)
    assert refused.status_code == 409 and "General" in refused.text


async def test_console_marks_closed_queues(fx_client: Any, fx_shop: ShopFixture) -> None:
    from tests.integration.test_hours_outside import close_general

    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    panel = f"/t/{fx_shop.slug}/console/panels/queue"
    before = await fx_client.get(panel, headers={"accept": "text/html"})
    assert before.status_code == 200 and 'data-testid="queue-closed-general"' not in before.text
    queue_id = await close_general(fx_client, fx_shop)
    status = (await fx_client.get(api(fx_shop, f"/queue-hours/{queue_id}/status"), headers=fx_shop.auth)).json()
    assert status["open"] is False and status["opens_at"]
    after = await fx_client.get(panel, headers={"accept": "text/html"})
    assert 'data-testid="queue-closed-general"' in after.text and "closed until" in after.text
    badge = after.text.split('data-testid="queue-closed-general"')[1].split("</span>")[0]
    opens = dt.datetime.fromisoformat(status["opens_at"])  # 12:00 in Sofia, shown in the viewer's zone (UTC)
    assert f"{opens:%-I:%M}" in badge and opens.astimezone(ZoneInfo("Europe/Sofia")).hour == 12
