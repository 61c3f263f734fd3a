"""The segments domain's manifest: saved segments and static lists, RFM, temperature from behaviour."""

from __future__ import annotations

from app.lib.domain import Domain

DOMAIN = Domain(
    name="segments",
    piccolo_app="app.segments.piccolo_app",
)
