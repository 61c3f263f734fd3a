"""Tenant-schema tables of the sales pipeline."""

from __future__ import annotations

from piccolo.columns import BigInt, Date, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.contacts.tables import Contact
from app.orders.tables import Order

KINDS = ("open", "won", "lost")


class DealStage(Table, tablename="deal_stage"):
    id: Serial
    key = Varchar(length=40, unique=True)
    label = Varchar(length=100)
    position = Integer(default=0)
    kind = Varchar(length=10, default="open")  # open | won | lost


class Deal(Table, tablename="deal"):
    """`value` is integer minor units of `currency`, like every amount of money here."""

    id: Serial
    title = Varchar(length=200)
    contact = ForeignKey(references=Contact, null=False, index=True)
    owner = ForeignKey(references=User, null=True)
    value = BigInt(default=0)
    currency = Varchar(length=3)
    expected_close = Date(null=True, default=None)
    stage = Varchar(length=40)  # indexed by deal_board (an index named deal_stage would clash with the table)
    position = Integer(default=0)
    reason = Text(default="")
    """Why it was won or lost (required for lost)."""
    closed_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    version = Integer(default=1)


class DealOrder(Table, tablename="deal_order"):
    id: Serial
    deal = ForeignKey(references=Deal, null=False)
    shop_order = ForeignKey(references=Order, null=False)


class DealStageChange(Table, tablename="deal_stage_change"):
    id: Serial
    deal = ForeignKey(references=Deal, null=False, index=True)
    from_stage = Varchar(length=40, null=True, default=None)
    to_stage = Varchar(length=40)
    reason = Text(default="")
    actor_label = Varchar(length=254, default="")
    changed_at = Timestamptz(default=TimestamptzNow())
