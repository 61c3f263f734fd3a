"""The security domain's manifest: the console of rejected inbound requests (admins)."""

from __future__ import annotations

from app.lib.domain import Domain
from app.security.api import SecurityApi
from app.security.views import SecurityViews

DOMAIN = Domain(
    name="security",
    routes=(SecurityApi, SecurityViews),
    piccolo_app="app.security.piccolo_app",
)
