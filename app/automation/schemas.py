"""Wire shapes of the automation API. Conditions and actions are JSON trees checked by the services (the message
names the node to fix: `conditions.all[1].op`)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec

from app.lib.wire import DbInt, Id, Patch


class RuleIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    event: str = ""
    """A name from the event catalogue (GET /api/v1/events/catalogue); not for trigger = schedule."""
    trigger: Literal["event", "delay", "schedule"] = "event"
    schedule: str = ""
    """For trigger = schedule: cron, five fields, in the workspace's zone ("0 9 * * 1": Mondays at 9:00); the
    conditions are checked over the contacts and the actions run for each that matches."""
    delay_minutes: DbInt = 0
    """For trigger = delay: minutes after the event; the conditions are checked again when they have passed."""
    conditions: dict[str, Any] = {}
    """`{"all": [...]}` / `{"any": [...]}` / `{"not": {...}}`; leaves `{"field": "contact.tags", "op": "contains",
    "value": "vip"}`."""
    actions: list[dict[str, Any]] = []
    """Ordered: `[{"type": "add_tag", "tag": "vip"}, {"type": "wait", "minutes": 30}, ...]`."""
    rate_limit: DbInt = 0
    """At most this many runs per hour per contact (0: no limit)."""
    enabled: bool = False


class RulePatch(Patch):
    name: str | msgspec.UnsetType = msgspec.UNSET
    event: str | msgspec.UnsetType = msgspec.UNSET
    trigger: Literal["event", "delay", "schedule"] | msgspec.UnsetType = msgspec.UNSET
    schedule: str | msgspec.UnsetType = msgspec.UNSET
    delay_minutes: DbInt | msgspec.UnsetType = msgspec.UNSET
    conditions: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    actions: list[dict[str, Any]] | msgspec.UnsetType = msgspec.UNSET
    rate_limit: DbInt | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


class RuleOut(msgspec.Struct):
    id: int
    name: str
    position: int
    enabled: bool
    version: int
    trigger: str
    event: str
    schedule: str
    next_run_at: dt.datetime | None
    delay_minutes: int
    conditions: dict[str, Any]
    actions: list[dict[str, Any]]
    rate_limit: int
    starter: str
    created_at: dt.datetime
    updated_at: dt.datetime


class VersionOut(msgspec.Struct):
    version: int
    definition: dict[str, Any]
    created_by_label: str
    created_at: dt.datetime


class MoveIn(msgspec.Struct, forbid_unknown_fields=True):
    position: DbInt


class TestIn(msgspec.Struct, forbid_unknown_fields=True):
    record: Literal["contact", "conversation", "order"]
    record_id: Id
    conditions: dict[str, Any] | None = None
    """Test an unsaved definition (the builder's); absent: the rule's current one."""
    actions: list[dict[str, Any]] | None = None


class Leaf(msgspec.Struct):
    field: str
    op: str
    value: Any
    actual: Any
    result: bool
    phase: str = "event"


class TestOut(msgspec.Struct):
    matched: bool
    leaves: list[Leaf]
    actions: list[str]
    missing: list[str]
    """Records some action needs that this record does not bring (it would fail)."""


class PreviewIn(msgspec.Struct, forbid_unknown_fields=True):
    conditions: dict[str, Any] | None = None
    event: str | None = None


class PreviewOut(msgspec.Struct):
    kind: str
    checked: int
    matches: int
    sample: list[int]


class RunOut(msgspec.Struct):
    id: int
    rule_id: int
    rule_name: str
    version: int
    event_id: int | None
    event_name: str
    depth: int
    contact_id: int | None
    conversation_id: int | None
    order_id: int | None
    status: str
    matched: bool
    leaves: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    note: str
    created_at: dt.datetime
    updated_at: dt.datetime


class StarterOut(msgspec.Struct):
    key: str
    name: str
    doc: str
    definition: dict[str, Any]
    rule_id: int | None
    enabled: bool
