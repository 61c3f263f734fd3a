"""The audit domain's manifest: who did what. Its table migrates with the accounts app; it has no routes yet."""

from __future__ import annotations

from app.lib.domain import Domain

DOMAIN = Domain(name="audit")
