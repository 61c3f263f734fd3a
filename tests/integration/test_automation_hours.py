"""Automation over #16's pieces: the "inside business hours" condition (the conversation's queue calendar, read
when the rule runs; no calendar: open around the clock) and the "set priority" action (routing's priority)."""

from __future__ import annotations

from typing import Any

from tests.conftest import ShopFixture
from tests.integration.automation_kit import make_rule, runs, settle, tenant_rows
from tests.integration.test_hours_api import api
from tests.integration.test_hours_outside import close_general

INSIDE = {"all": [{"field": "conversation.inside_hours", "op": "equals", "value": "yes"}]}


async def _conversation(client: Any, shop: ShopFixture) -> int:
    made = await client.post(api(shop, "/conversations"), json={"channel": "chat"}, headers=shop.auth)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def _test(client: Any, shop: ShopFixture, conversation_id: int) -> dict[str, Any]:
    answer = await client.post(api(shop, "/automation/test"), headers=shop.auth, json={
        "record": "conversation", "record_id": conversation_id, "conditions": INSIDE, "actions": []})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_inside_business_hours_follows_the_queue_calendar(fx_client: Any, fx_shop: ShopFixture,
                                                                fx_other_shop: ShopFixture) -> None:
    conversation_id = await _conversation(fx_client, fx_shop)
    around_the_clock = await _test(fx_client, fx_shop, conversation_id)
    assert around_the_clock["matched"] is True
    assert around_the_clock["leaves"][0]["actual"] == "yes"

    await close_general(fx_client, fx_other_shop)  # another shop's closed calendar changes nothing here
    assert (await _test(fx_client, fx_shop, conversation_id))["matched"] is True

    await close_general(fx_client, fx_shop)
    closed = await _test(fx_client, fx_shop, conversation_id)
    assert closed["matched"] is False
    leaf = closed["leaves"][0]
    assert (leaf["field"], leaf["actual"], leaf["result"]) == ("conversation.inside_hours", "no", False)


async def test_a_rule_sets_the_priority_of_a_new_waiting_item(fx_client: Any, fx_shop: ShopFixture) -> None:
    """The "set priority" action (routing's priority: higher is offered first)."""
    rule = await make_rule(fx_client, fx_shop, name="VIP first", event="queue.item_added",
                           actions=[{"type": "set_priority", "priority": 7}])
    conversation_id = await _conversation(fx_client, fx_shop)
    await settle(fx_shop, waiting_ok=True)
    logged = await runs(fx_client, fx_shop, rule_id=rule["id"])
    assert [r["status"] for r in logged] == ["done"], logged
    rows = await tenant_rows(fx_shop, "SELECT priority FROM conversation WHERE id = $1", conversation_id)
    assert rows[0]["priority"] == 7
    refused = await fx_client.post(api(fx_shop, "/automation/rules"), headers=fx_shop.auth, json={
        "name": "Too high", "event": "queue.item_added", "actions": [{"type": "set_priority", "priority": "x"}]})
    assert refused.status_code == 400, refused.text
