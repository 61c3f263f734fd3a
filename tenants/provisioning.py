"""Migrating every tenant schema to head: schema by schema, failures reported, never stopping the others."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

from app.lib.db import TenantRef
from tenants import services
from tenants.tables import Tenant


@dataclasses.dataclass
class MigrateReport:
    total: int = 0
    migrated: list[str] = dataclasses.field(default_factory=list)
    up_to_date: list[str] = dataclasses.field(default_factory=list)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)


async def all_tenants() -> list[TenantRef]:
    rows = await Tenant.select(Tenant.id, Tenant.slug, Tenant.schema_name, Tenant.name).order_by(Tenant.id)
    return [TenantRef(id=r["id"], slug=r["slug"], schema=r["schema_name"], name=r["name"]) for r in rows]


async def migrate_all(concurrency: int = 4, on_progress: Callable[[str, str], None] | None = None) -> MigrateReport:
    """Bring `public` and then every tenant schema (suspended ones too) to head. Re-running resumes: schemas
    already at head are a cheap check. One schema per transaction, so a failure changes nothing in it."""
    await services.migrate_platform()
    tenants = await all_tenants()
    report = MigrateReport(total=len(tenants))
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(tenant: TenantRef) -> None:
        async with gate:
            try:
                ran = await services.migrate_tenant(tenant)
            except Exception as exc:  # reported per tenant; the others go on
                report.failed[tenant.slug] = f"{type(exc).__name__}: {exc}"
                outcome = "failed"
            else:
                (report.migrated if ran else report.up_to_date).append(tenant.slug)
                outcome = "migrated" if ran else "up to date"
            if on_progress:
                on_progress(tenant.slug, outcome)

    await asyncio.gather(*(one(t) for t in tenants))
    return report
