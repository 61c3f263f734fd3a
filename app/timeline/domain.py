"""The timeline's manifest: one table of interactions every channel writes to."""

from __future__ import annotations

from app.lib.domain import Domain, MergeStep
from app.timeline import services

DOMAIN = Domain(
    name="timeline",
    merge_steps=(MergeStep("timeline", services.move_to, tables=("interaction",)),),
    piccolo_app="app.timeline.piccolo_app",
)
