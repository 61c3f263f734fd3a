"""Wire shapes of the upsell API. Fractions (support, confidence) are 0..1; money is integer minor units."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec


class Suggestion(msgspec.Struct):
    """What to offer a contact next, with the reason already translated for the viewer's language."""

    product_key: str
    """The sku, else the lower-cased name."""
    product_name: str
    kind: str
    """pair | reorder"""
    reason: str
    score: float
    due_on: dt.date | None = None
    """A reorder suggestion's first day (in the workspace's zone); None for a pair."""
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    """The reason's figures: {because, support, confidence, lift} or {interval_days, days_since}."""


class EventIn(msgspec.Struct, forbid_unknown_fields=True):
    contact_id: int
    product_key: str
    kind: str
    """shown | offered | accepted (ordered is recorded by the order listener)"""
    source: str = "card"
    """card | console | campaign"""
    ref: str = ""
    """What showed it: a conversation id, a campaign's recipient token."""


class EventOut(msgspec.Struct):
    recorded: bool
    """False when a 'shown' was already recorded today for this contact and product."""


class PairOut(msgspec.Struct):
    level: str
    """product | category"""
    antecedent: str
    antecedent_name: str
    consequent: str
    consequent_name: str
    baskets_x: int
    baskets_y: int
    baskets_xy: int
    support: float
    confidence: float
    lift: float


class SettingsIO(msgspec.Struct, forbid_unknown_fields=True):
    min_support: float = 0.02
    min_confidence: float = 0.2
    min_count: int = 2
    recent_days: int = 7
    attribution_days: int = 14


class ReportOut(msgspec.Struct):
    days: int
    shown: int
    offered: int
    accepted: int
    ordered: int
    revenue: int
    """Sum of the suggested products' line totals in the orders they brought (minor units)."""
    currency: str
    by_product: list[dict[str, Any]]
    pairs: list[PairOut]
