"""The demo's story: deterministic per seed, inside its 90 days, true to the tenant's pipelines and locale."""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
import pytest

from app.demo.story import WINDOW, tell
from app.demo.texts import LOCALES

OPERATORS = ["op1@demo.example", "op2@demo.example"]
# A shop that changed the defaults: no packing step, an extra open deal stage.
STATUSES = [
    {"key": "new", "label": "New", "position": 0, "allowed": ["paid", "cancelled"], "final": False,
     "counts_as_sale": True},
    {"key": "paid", "label": "Paid", "position": 1, "allowed": ["shipped", "cancelled"], "final": False,
     "counts_as_sale": True},
    {"key": "shipped", "label": "Shipped", "position": 2, "allowed": ["delivered", "returned"], "final": False,
     "counts_as_sale": True},
    {"key": "delivered", "label": "Delivered", "position": 3, "allowed": ["returned"], "final": True,
     "counts_as_sale": True},
    {"key": "cancelled", "label": "Cancelled", "position": 4, "allowed": [], "final": True, "counts_as_sale": False},
    {"key": "returned", "label": "Returned", "position": 5, "allowed": [], "final": True, "counts_as_sale": False},
]
STAGES = {"lead": "open", "demo_day": "open", "proposal": "open", "won": "won", "lost": "lost"}


def story(seed: int = 5, locale: str = "en_US") -> Any:
    return tell(seed, LOCALES[locale], operators=OPERATORS, statuses=STATUSES, deal_kinds=STAGES)


def offsets(s: Any) -> list[int]:
    out = [c["created"] for c in s.contacts]
    for o in s.orders:
        out += [o["placed"], *(h["at"] for h in o["history"]), *(p["at"] for p in o["payments"])]
    for d in s.deals:
        out += [h["at"] for h in d["history"]]
    for t in s.threads:
        out += [t["created"], *(m["at"] for m in t.get("messages", []))]
    return out + [n["at"] for n in s.notes]


def test_the_same_seed_tells_the_same_story_and_another_seed_another() -> None:
    assert story(5) == story(5)
    assert [c["values"]["name"] for c in story(5).contacts] != [c["values"]["name"] for c in story(6).contacts]


def test_everything_happens_in_the_90_days_before_the_anchor_and_after_the_contact_arrived() -> None:
    s = story()
    assert all(0 < t <= WINDOW for t in offsets(s))
    for o in s.orders:
        assert o["placed"] <= s.contacts[o["contact"]]["created"]
    for t in s.threads:
        assert t["created"] <= s.contacts[t["contact"]]["created"]


def test_orders_walk_the_tenants_pipeline_and_money_adds_up() -> None:
    moves = {s["key"]: set(s["allowed"]) for s in STATUSES}
    s = story()
    assert {o["status"] for o in s.orders} >= {"new", "paid", "shipped", "delivered", "cancelled"}
    for o in s.orders:
        assert o["first_status"] == "new"
        for h in o["history"]:
            assert h["to"] in moves[h["from"]], (h, o)
        paid = sum(p["amount"] for p in o["payments"] if p["kind"] == "payment")
        refunded = sum(p["amount"] for p in o["payments"] if p["kind"] == "refund")
        assert 0 <= refunded <= paid
        assert o["total"] == sum(i["quantity"] * i["unit_price"] for i in o["items"]) + o["shipping"] - o["discount"]
        if o["status"] == "delivered":
            assert paid == o["total"]
        if o["status"] == "returned":
            assert refunded == paid > 0
    assert any(p["kind"] == "refund" for o in s.orders for p in o["payments"])


def test_deals_fill_every_stage_of_the_tenants_board() -> None:
    deals = story().deals
    assert {d["stage"] for d in deals} == set(STAGES)
    assert all(d["reason"] for d in deals if d["stage"] == "lost")
    assert all(d["closed"] is not None for d in deals if STAGES[d["stage"]] != "open")


def test_the_console_has_work_waiting_and_calls_have_recordings() -> None:
    threads = story().threads
    assert {t["channel"] for t in threads if t.get("state") == "waiting"} == {"sms", "email", "chat"}
    assert [t["operator"] for t in threads if t.get("state") == "active"] == [OPERATORS[0]]
    recorded = [t for t in threads if t["channel"] == "call" and t["recorded"]]
    assert recorded and all(t["outcome"] == "answered" and t["talk"] > 0 for t in recorded)


@pytest.mark.parametrize(("locale", "script"), [("en_US", r"[A-Za-z]"), ("ru_RU", "[\\u0410-\\u044f\\u0401\\u0451]"),
                                                ("bg_BG", "[\\u0410-\\u044f]")])
def test_customers_come_from_the_locale(locale: str, script: str) -> None:
    s = story(locale=locale)
    region = LOCALES[locale].region
    assert len(s.contacts) >= 300
    phones = [p for c in s.contacts for p in c["values"]["phones"]]
    assert len(set(phones)) == len(phones)
    for number in phones:
        parsed = phonenumbers.parse(number)
        assert phonenumbers.is_valid_number(parsed) and phonenumbers.region_code_for_number(parsed) == region
    assert all(re.match(script, c["values"]["name"]) for c in s.contacts)
    assert all(e.split("@")[1] in ("example.com", "example.net", "example.org")
               for c in s.contacts for e in c["values"]["emails"])
    assert {o["currency"] for o in s.orders} == {LOCALES[locale].currency}
    assert {c["values"]["temperature"] for c in s.contacts} == {"hot", "warm", "cold", None}
