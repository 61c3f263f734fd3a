"""The privacy domain's manifest: data requests (export, erasure), legal holds and retention."""

from __future__ import annotations

from app.lib.domain import Domain

DOMAIN = Domain(
    name="privacy",
    piccolo_app="app.privacy.piccolo_app",
)
