"""Tenant-schema tables of segments: saved segments (dynamic condition trees or static lists), static members and
the shop's temperature rules."""

from __future__ import annotations

from piccolo.columns import JSONB, BigInt, Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.contacts.tables import Contact

KINDS = ("dynamic", "static")
SOURCES = ("selection", "import", "automation", "api")


class Segment(Table, tablename="segment"):
    id: Serial
    name = Varchar(length=100, unique=True)
    kind = Varchar(length=8, default="dynamic")  # dynamic | static
    definition = JSONB(default={"all": []})
    """The condition tree (app.lib.conditions shape); `{"all": []}` for a static list."""
    description = Text(default="")
    created_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class SegmentMember(Table, tablename="segment_member"):
    """A contact on a static list (PRIMARY KEY (segment, contact) in the migration)."""

    segment = ForeignKey(references=Segment, null=False)
    contact = ForeignKey(references=Contact, null=False)
    added_at = Timestamptz(default=TimestamptzNow())
    source = Varchar(length=16, default="api")  # selection | import | automation | api


class TemperatureRules(Table, tablename="temperature_rules"):
    """One row: how behaviour sets a contact's temperature. A buyer is hot when their last sale is at most
    `hot_days` old, they have at least `hot_orders` sales and spent at least `hot_spent` (minor units, net of
    refunds); else warm by the warm thresholds; else cold. Contacts who never bought and hand-set values are
    left alone."""

    id: Serial
    enabled = Boolean(default=False)
    hot_days = Integer(default=30)
    hot_orders = Integer(default=2)
    hot_spent = BigInt(default=0)
    warm_days = Integer(default=90)
    warm_orders = Integer(default=1)
    warm_spent = BigInt(default=0)
    updated_at = Timestamptz(default=TimestamptzNow())
