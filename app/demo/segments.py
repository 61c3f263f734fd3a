"""Demo segments: hot buyers, lapsed buyers and buyers of the shop's best-selling category (or product), with the
temperature rules on, so `make run` shows the segment list, the builder's live count and rule-set temperatures."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.lib.db import current_uow
from app.segments import services as segments
from app.segments import temperature

RULES = {"enabled": True, "hot_days": 30, "hot_orders": 2, "hot_spent": 0, "warm_days": 60, "warm_orders": 1,
         "warm_spent": 0}


async def write(owner: Any, anchor: dt.datetime) -> None:
    await temperature.save_rules(owner, RULES)
    await temperature.recompute(at=anchor)  # as of the story's day, not only when the worker runs the job
    await segments.create(owner, name="Hot buyers", description="Rule-set or hand-set hot, with at least one order",
                          definition={"all": [{"field": "contact.temperature", "op": "equals", "value": "hot"},
                                              {"field": "contact.orders_count", "op": "gt", "value": 0}]})
    await segments.create(owner, name="Lapsed 60 days", description="Bought before, nothing for 60 days",
                          definition={"all": [{"field": "contact.last_order_at", "op": "days_ago_gt", "value": 60}]})
    top = await current_uow().connection.fetchrow(
        "SELECT category AS v, 'contact.bought_category' AS field FROM order_item WHERE category <> '' "
        "GROUP BY category ORDER BY count(*) DESC, category LIMIT 1")
    if top is None:
        top = await current_uow().connection.fetchrow(
            "SELECT name AS v, 'contact.bought_product' AS field FROM order_item GROUP BY name "
            "ORDER BY count(*) DESC, name LIMIT 1")
    if top is not None:
        await segments.create(owner, name=f"Bought {top['v']}"[:100],
                              definition={"all": [{"field": top["field"], "op": "contains", "value": top["v"]}]})
    await segments.create(owner, name="Call back list", kind="static",
                          description="Clients to call this week (add them from the contacts list)")
