"""The event catalogue, assembled from the domains' manifests: each domain's `events.py` registers its EventTypes
with realtime.events.declare, and every manifest names its module (app/domains.py lists the manifests)."""

from __future__ import annotations

from types import ModuleType

from app import domains
from realtime.events import CATALOGUE, EventType

DOMAINS: tuple[ModuleType, ...] = tuple(
    module for d in domains.DOMAINS if d.events is not None
    for module in (d.events if isinstance(d.events, tuple) else (d.events,))
)


def catalogue() -> list[EventType]:
    """Every declared event, by name."""
    return [CATALOGUE[name] for name in sorted(CATALOGUE)]
