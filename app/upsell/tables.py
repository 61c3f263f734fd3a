"""Tenant-schema tables of upsell: the shop's settings, the association pairs, the suggestions per contact and what
happened to them (shown, accepted, ordered with the revenue the order brought)."""

from __future__ import annotations

from piccolo.columns import JSONB, BigInt, Date, Float, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.contacts.tables import Contact

SUGGESTION_KINDS = ("pair", "reorder")
EVENT_KINDS = ("shown", "offered", "accepted", "ordered")
"""shown: rendered on a panel; offered: the operator offered it; accepted: the client said yes; ordered: an order."""
EVENT_SOURCES = ("card", "console", "campaign")
PAIR_LEVELS = ("product", "category")


class UpsellSettings(Table, tablename="upsell_settings"):
    """One row per tenant (made by the migration): the thresholds the shop sets."""

    id: Serial
    min_support = Float(default=0.02)
    """Share of baskets (contacts) that bought both X and Y, 0..1."""
    min_confidence = Float(default=0.2)
    """Share of the baskets with X that also hold Y, 0..1."""
    min_count = Integer(default=2)
    """Baskets that must hold both, whatever the shares say (two people are a pattern, one is an accident)."""
    recent_days = Integer(default=7)
    """Nothing is suggested that the contact bought in the last this many days."""
    attribution_days = Integer(default=14)
    """An order within this many days after a suggestion was shown or accepted counts as 'ordered'."""


class UpsellPair(Table, tablename="upsell_pair"):
    """A rule "bought X, also bought Y" over baskets (a contact's set of products, or of categories)."""

    id: Serial
    level = Varchar(length=8)  # product | category
    antecedent = Varchar(length=200)
    antecedent_name = Varchar(length=200)
    consequent = Varchar(length=200)
    consequent_name = Varchar(length=200)
    baskets_x = Integer()
    baskets_y = Integer()
    baskets_xy = Integer()
    support = Float()
    confidence = Float()
    lift = Float()
    computed_at = Timestamptz(default=TimestamptzNow())


class UpsellSuggestion(Table, tablename="upsell_suggestion"):
    """What to offer a contact next; UNIQUE(contact, kind, product_key). A reorder suggestion is due from `due_on`."""

    id: Serial
    contact = ForeignKey(references=Contact, null=False, index=True)
    kind = Varchar(length=8)  # pair | reorder
    product_key = Varchar(length=200)
    """The sku, else lower(name)."""
    product_name = Varchar(length=200)
    reason = JSONB(default={})
    """pair: {because, because_key, support, confidence, lift}; reorder: {interval_days, days_since, last_at}."""
    score = Float(default=0.0)
    due_on = Date(null=True, default=None)
    computed_at = Timestamptz(default=TimestamptzNow())


class UpsellEvent(Table, tablename="upsell_event"):
    id: Serial
    contact = ForeignKey(references=Contact, null=False, index=True)
    product_key = Varchar(length=200)
    kind = Varchar(length=8)  # shown | offered | accepted | ordered
    source = Varchar(length=16)  # card | console | campaign
    ref = Varchar(length=64, default="")
    order_id = Integer(null=True, default=None)
    revenue = BigInt(default=0)
    """Minor units of the order's currency (the line total of the suggested product)."""
    at = Timestamptz(default=TimestamptzNow())
