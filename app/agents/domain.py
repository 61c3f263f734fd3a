"""The agents domain's manifest: presence from behaviour, capacity and load."""

from __future__ import annotations

from app.agents import events
from app.lib.domain import Domain

DOMAIN = Domain(
    name="agents",
    piccolo_app="app.agents.piccolo_app",
    events=events,
)
