"""The demo shop's plan: quotas well above what its history uses, so the "Plan and usage" page shows real bars."""

from __future__ import annotations

from app.lib.db import platform_context
from tenants import services as tenants
from tenants.tables import Tenant

DEMO_QUOTAS = {"contacts": 5_000, "users": 25, "storage": 1_000 * 1_000_000, "messages_per_day": 2_000}


async def ensure_demo_quotas(slug: str) -> bool:
    """Give the shop `slug` the demo plan once: only while it has no quota at all (the platform's later changes are
    kept). True when it set them."""
    async with platform_context():
        row = await Tenant.select(*tenants.QUOTA_COLUMNS.values()).where(Tenant.slug == slug).first()
        if row is None or any(value is not None for value in row.values()):
            return False
        await tenants.set_quotas(slug, **DEMO_QUOTAS)
    return True
