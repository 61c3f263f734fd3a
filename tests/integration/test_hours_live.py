"""Consoles follow a queue's opening and closing: a change of its calendar announces it at once, a timer job
announces the next opening (and then the next closing), and the console's queue panel is rendered again with the
"closed until ..." badge. Two shops whose queues share an id and an opening instant each get their own timer."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from app.accounts.services import Principal
from app.hours import live
from app.lib.db import tenant_context
from realtime.events import Event
from tests.conftest import ShopFixture
from tests.integration.test_hours_api import api
from tests.integration.test_hours_outside import close_general


async def _events(shop: ShopFixture) -> list[dict[str, Any]]:
    async with tenant_context(shop.tenant) as uow:
        rows = await uow.connection.fetch("SELECT data FROM event_log WHERE name = 'queue.hours_changed' ORDER BY id")
    return [json.loads(r["data"]) if isinstance(r["data"], str) else dict(r["data"]) for r in rows]


async def _timers(shop: ShopFixture) -> list[str]:
    from app.piccolo_conf import DB

    async with DB.pool.acquire() as conn:
        rows = await conn.fetch("SELECT dedupe_key FROM public.pgqueuer WHERE entrypoint = 'hours.tick' AND status = "
                                "'queued' AND convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1 ORDER BY id",
                                shop.tenant.slug)
    return [r["dedupe_key"] for r in rows]


async def test_opening_and_closing_reach_the_console(fx_client: Any, fx_shop: ShopFixture,
                                                     fx_other_shop: ShopFixture) -> None:
    other_queue = await close_general(fx_client, fx_other_shop)  # the same calendar in another shop first
    queue_id = await close_general(fx_client, fx_shop)  # open 12:00-13:00 (Sofia), three days from now
    assert other_queue == queue_id and len(await _timers(fx_other_shop)) == 1
    [closed] = await _events(fx_shop)
    assert closed["queue_id"] == queue_id and closed["open"] is False
    opens = dt.datetime.fromisoformat(closed["opens_at"])
    assert await _timers(fx_shop) == [f"hours.tick:{fx_shop.slug}:{queue_id}:{opens.isoformat()}"]

    await live.tick({"tenant": fx_shop.slug, "queue_id": queue_id, "at": opens.isoformat()})  # the timer fires
    opened = (await _events(fx_shop))[-1]
    assert opened == {"queue_id": queue_id, "open": True}
    closes = opens + dt.timedelta(hours=1)
    assert f"hours.tick:{fx_shop.slug}:{queue_id}:{closes.isoformat()}" in await _timers(fx_shop)

    # The queue panel as the role's consoles receive it for the closing event: the badge is there.
    owner = Principal(0, "", "", "owner", "session", 0)
    event = Event(id=1, name="queue.hours_changed", tenant=fx_shop.slug, at=dt.datetime.now(dt.UTC), data=closed)
    async with tenant_context(fx_shop.tenant):
        html = await live.console_queue_hours(event, fx_shop.tenant, owner)
    assert 'id="console-queue"' in html and 'data-testid="queue-closed-general"' in html

    # Around the clock again: announced as open, and no timer for a queue without a calendar.
    await fx_client.put(api(fx_shop, f"/queue-hours/{queue_id}"), json={"calendar_id": None}, headers=fx_shop.auth)
    assert (await _events(fx_shop))[-1] == {"queue_id": queue_id, "open": True}
