"""Wire shapes of the deals API (value in integer minor units)."""

from __future__ import annotations

import datetime as dt

import msgspec

from app.lib.wire import DbInt, Id, Money


class DealIn(msgspec.Struct, forbid_unknown_fields=True):
    title: str
    contact_id: Id
    currency: str
    value: Money = 0
    stage: str | None = None
    owner_id: Id | None = None
    expected_close: dt.date | None = None
    order_ids: list[Id] = []


class MoveIn(msgspec.Struct, forbid_unknown_fields=True):
    stage: str
    reason: str = ""
    position: DbInt | None = None
    version: DbInt | None = None


class StageIn(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    label: str
    kind: str = "open"
    position: DbInt | None = None


class StageOut(msgspec.Struct):
    key: str
    label: str
    position: int
    kind: str


class StageChangeOut(msgspec.Struct):
    from_stage: str | None
    to_stage: str
    reason: str
    actor_label: str
    changed_at: dt.datetime


class DealOut(msgspec.Struct):
    id: int
    title: str
    contact_id: int
    contact_name: str | None
    owner_id: int | None
    owner_name: str | None
    value: int
    currency: str
    expected_close: dt.date | None
    stage: str
    position: int
    reason: str
    closed_at: dt.datetime | None
    version: int
    order_ids: list[int]
    history: list[StageChangeOut]
