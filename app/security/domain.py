"""The security domain's manifest: the console of rejected inbound requests (admins)."""

from __future__ import annotations

from app.lib.domain import Domain

DOMAIN = Domain(
    name="security",
    piccolo_app="app.security.piccolo_app",
)
