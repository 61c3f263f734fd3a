"""Wire shapes of the segments API. A definition is the condition tree (app.lib.conditions); a bad one is a 400
naming the node to fix (`definition.all[1].op`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec


class SegmentIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    definition: Any = None
    """The condition tree; ignored for a static list."""
    kind: str = "dynamic"
    """dynamic | static"""
    description: str = ""


class SegmentPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    definition: Any = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__struct_fields__ if getattr(self, k) is not msgspec.UNSET}


class SegmentOut(msgspec.Struct):
    id: int
    name: str
    kind: str
    definition: dict[str, Any]
    description: str
    count: int
    created_at: dt.datetime
    updated_at: dt.datetime
    created_by_id: int | None = None


class PreviewIn(msgspec.Struct, forbid_unknown_fields=True):
    definition: Any = None


class PreviewOut(msgspec.Struct):
    count: int


class MembersIn(msgspec.Struct, forbid_unknown_fields=True):
    contact_ids: list[int]


class MembersOut(msgspec.Struct):
    changed: int
    count: int


class SegmentContact(msgspec.Struct):
    id: int
    name: str
    temperature: str | None
    phones: list[str]
    emails: list[str]


class SegmentContactPage(msgspec.Struct):
    items: list[SegmentContact]
    next: str | None
    """Pass as `cursor` for the next page; null on the last one."""


class TemperatureRulesIn(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    hot_days: int | msgspec.UnsetType = msgspec.UNSET
    hot_orders: int | msgspec.UnsetType = msgspec.UNSET
    hot_spent: int | msgspec.UnsetType = msgspec.UNSET
    """Minor units, net of refunds."""
    warm_days: int | msgspec.UnsetType = msgspec.UNSET
    warm_orders: int | msgspec.UnsetType = msgspec.UNSET
    warm_spent: int | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__struct_fields__ if getattr(self, k) is not msgspec.UNSET}


class TemperatureRulesOut(msgspec.Struct):
    enabled: bool
    hot_days: int
    hot_orders: int
    hot_spent: int
    warm_days: int
    warm_orders: int
    warm_spent: int
    updated_at: dt.datetime
