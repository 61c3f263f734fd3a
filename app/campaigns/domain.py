"""The campaigns domain's manifest: bulk SMS/email to a segment, sent by a crash-safe job."""

from __future__ import annotations

from app.campaigns import events, merge
from app.lib.domain import Domain

DOMAIN = Domain(
    name="campaigns",
    merge_steps=(merge.MERGE_STEP,),
    piccolo_app="app.campaigns.piccolo_app",
    events=events,
)
