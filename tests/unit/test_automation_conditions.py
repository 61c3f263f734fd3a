"""Condition trees: shape checks with messages naming the node, and evaluation that logs every leaf."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from app.automation import conditions
from app.lib.errors import Invalid

SOFIA = zoneinfo.ZoneInfo("Europe/Sofia")
NOON_UTC = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)  # 12:00 in Sofia
CTX = {"contact": {"tags": ["VIP", "wholesale"], "temperature": "warm", "custom": {"tier": "gold"},
                   "orders_count": 3},
       "message": {"body": "Where is my REFUND?", "channel": "sms"}, "order": {"total": 12500, "status": "paid"}}


def run(tree: dict, ctx: dict | None = None) -> conditions.Evaluation:
    return conditions.evaluate(conditions.check(tree), CTX if ctx is None else ctx, now=NOON_UTC, zone=SOFIA)


def test_nested_all_any_not_with_every_leaf_logged() -> None:
    tree = {"all": [{"field": "message.body", "op": "contains", "value": "refund"},
                    {"any": [{"field": "order.total", "op": "gt", "value": 50000},
                             {"op": "has_tag", "value": "vip"}]},
                    {"not": {"field": "contact.temperature", "op": "in", "value": ["cold", "hot"]}}]}
    result = run(tree)
    assert result.matched
    assert [(leaf["field"], leaf["actual"], leaf["result"]) for leaf in result.leaves] == [
        ("message.body", "Where is my REFUND?", True), ("order.total", 12500, False),
        ("contact.tags", ["VIP", "wholesale"], True), ("contact.temperature", "warm", False)]


@pytest.mark.parametrize(("leaf", "expected"), [
    ({"field": "contact.custom.tier", "op": "equals", "value": "Gold"}, True),
    ({"field": "contact.custom.tier", "op": "not_equals", "value": "gold"}, False),
    ({"field": "contact.orders_count", "op": "lt", "value": 4}, True),
    ({"field": "contact.orders_count", "op": "equals", "value": "3"}, True),
    ({"field": "order.status", "op": "is_set"}, True),
    ({"field": "conversation.status", "op": "is_set"}, False),  # no conversation in this event
    ({"op": "time_between", "value": "09:00-17:30"}, True),  # noon in the workspace's zone
    ({"op": "time_between", "value": "22:00-06:00"}, False),
    ({"field": "message.body", "op": "gt", "value": 3}, False),  # a text is not a number: false, not an error
])
def test_operators(leaf: dict, expected: bool) -> None:
    assert run(leaf).matched is expected


def test_an_empty_tree_matches_everything() -> None:
    assert run({}).matched and run({"all": []}).matched and not run({"any": []}).matched


@pytest.mark.parametrize(("tree", "field"), [
    ({"all": [{"field": "contact.tags", "op": "resembles", "value": "x"}]}, "conditions.all[0].op"),
    ({"any": [{"all": [{"field": "contact.shoe_size", "op": "equals", "value": 1}]}]},
     "conditions.any[0].all[0].field"),
    ({"all": [{"field": "contact.tags", "op": "in", "value": "vip"}]}, "conditions.all[0].value"),
    ({"not": {"op": "time_between", "value": "noon"}}, "conditions.not.value"),
    ({"all": {"field": "contact.tags"}}, "conditions"),
])
def test_a_wrong_node_is_named(tree: dict, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        conditions.check(tree)
    assert caught.value.field == field
