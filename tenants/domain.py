"""The platform's manifest: the tenant registry in `public`, the landing page, signup and health."""

from __future__ import annotations

from app.lib.domain import Domain
from tenants.api import health, signup
from tenants.views import landing, script_catalogue, signup_form, signup_submit

DOMAIN = Domain(
    name="tenants",
    public_routes=(landing, signup_form, signup_submit, signup, script_catalogue, health),
    piccolo_app="tenants.piccolo_app",
)
