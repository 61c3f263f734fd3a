"""The demo shop's automation: the starter "contact turns hot after a big order" enabled, a custom rule left
disabled, and runs of the enabled rule over the latest orders, so the rules page, the run log and the cards show
something on the first visit. Once: an admin's later changes are kept."""

from __future__ import annotations

from typing import Any

from app.automation import engine
from app.automation import services as automation
from app.automation.tables import Rule
from app.lib.db import current_uow

DEMO_RUNS = 6
"""Orders the enabled starter is run over (the newest)."""


async def configure(users: dict[str, dict[str, Any]], owner: Any) -> None:
    rule = await automation.enable_starter(owner, "hot_after_big_order")
    await automation.create(owner, {
        "name": "VIP writes: tag and tell the supervisor", "event": "message.received",
        "conditions": {"all": [{"op": "has_tag", "value": "vip"},
                               {"any": [{"field": "message.channel", "op": "equals", "value": "sms"},
                                        {"field": "message.channel", "op": "equals", "value": "email"}]}]},
        "actions": [{"type": "add_tag", "tag": "needs-care"},
                    {"type": "notify_user", "user_id": owner.user_id, "text": "{{ contact.name }} wrote again"}]})
    orders = await current_uow().connection.fetch("SELECT id FROM shop_order ORDER BY placed_at DESC LIMIT $1",
                                                  DEMO_RUNS)
    for row in orders:
        await engine.evaluate_now(rule["id"], "order.created", {"order_id": row["id"]})


TABLE = Rule
