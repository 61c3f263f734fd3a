"""The demo shop's service-level settings: the default formula written down by the owner (so Settings → Service
level and the audit log show a choice someone made), T = 20 s and short abandons up to 5 s."""

from __future__ import annotations

from app.accounts.services import Principal
from app.accounts.tables import User
from app.lib.db import current_uow, resolve_active, tenant_context
from app.reports import service_level
from app.reports.service_level import SettingsIn

DEMO_SERVICE_LEVEL = SettingsIn(service_level_formula="offered_minus_short", service_level_seconds=20,
                                short_abandon_seconds=5)


async def ensure_demo_service_level(slug: str) -> bool:
    """Save the demo's service-level settings in the shop `slug` once (an admin's later choice is kept)."""
    tenant = await resolve_active(slug)
    if tenant is None:
        return False
    async with tenant_context(tenant):
        if await current_uow().connection.fetchval("SELECT count(*) FROM report_settings"):
            return False
        owner = await User.select(User.id, User.email, User.name).where(User.role == "owner").order_by(
            User.id).first()
        if owner is None:
            return False
        await service_level.update_settings(Principal(user_id=owner["id"], email=owner["email"], name=owner["name"],
                                                      role="owner", via="session", credential_id=0),
                                            DEMO_SERVICE_LEVEL)
    return True
