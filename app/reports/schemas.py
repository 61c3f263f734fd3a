"""Reports' bodies on the wire: KPI targets."""

from __future__ import annotations

import msgspec

from app.lib.wire import Id


class TargetIn(msgspec.Struct, forbid_unknown_fields=True):
    metric: str
    """One of the agents report's columns: handled, aht, first_response_median, first_response_p90,
    resolution_median, resolution_p90, missed, occupancy, utilisation."""
    value: float
    """Seconds for times, a count for counts, a percentage (0 to 100) for occupancy and utilisation."""
    agent: Id | None = None
    """The agent it applies to; null: the team's default."""


class TargetsIn(msgspec.Struct, forbid_unknown_fields=True):
    targets: list[TargetIn]


class TargetOut(msgspec.Struct):
    metric: str
    agent: int | None
    value: float


class TargetsOut(msgspec.Struct):
    targets: list[TargetOut]
    metrics: dict[str, str]
    """The metrics a target may be set on, with their labels."""
