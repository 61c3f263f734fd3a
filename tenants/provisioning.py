"""Migrating every tenant schema to head: schema by schema, failures reported, never stopping the others."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

from app.lib.db import TenantRef
from tenants import migrations, services
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


SMALL_BATCH = 16
"""Schemas migrated in one transaction when each is one migration behind; fewer the more each has to do, and an
empty schema (its whole DDL, ~150 relations to lock) goes alone."""


async def migrate_all(concurrency: int = 8, on_progress: Callable[[str, str], None] | None = None) -> MigrateReport:
    """Bring `public` and then every tenant schema (suspended ones too) to head. Re-running resumes.

    First a survey reads every schema's `migration` table in a few statements (migrations.survey): schemas at head
    cost no transaction of their own. The others are migrated over the pool, `concurrency` transactions at once;
    schemas with little to do go several per transaction. A batch that fails is retried schema by schema, so one
    broken schema fails alone and changes nothing in itself, and the others go on.

    A new schema is the baseline script (tenants/baseline.py); what it costs is PostgreSQL's: ~200 ms of CPU for
    ~520 relations (toast tables included), and each of its ~317 b-tree builds fsyncs its file before the statement
    returns (PostgreSQL <= 16, wal_level above minimal). One connection waits for each fsync in turn; `concurrency`
    connections overlap the waits and spread the CPU over the cores, which is what --jobs buys
    (docs/architecture.md, "Where a new schema's time goes"). It has a price: a schema's commit overflows
    PostgreSQL's shared invalidation queue, so every other job's caches are reset once per schema (~8.8 resets per
    schema with 8 jobs, 2.1 with 2) and the CPU per schema is ~10% higher at 8 jobs than at 2; but with fewer jobs
    the cores idle during the fsyncs, and no count below 8 was measured faster on 2 cores, so the default stays 8."""
    await services.migrate_platform()
    tenants = await all_tenants()
    report = MigrateReport(total=len(tenants))
    apps = migrations.tenant_apps()
    target = len(migrations.head(apps))
    # The survey's chunks each lock SURVEY_CHUNK `migration` tables: a few at once, whatever --jobs says.
    applied = await migrations.survey([t.schema for t in tenants], apps, concurrency=max(1, min(4, concurrency)))

    def done(tenant: TenantRef, outcome: str, error: str = "") -> None:
        if outcome == "failed":
            report.failed[tenant.slug] = error
        else:
            (report.migrated if outcome == "migrated" else report.up_to_date).append(tenant.slug)
        if on_progress:
            on_progress(tenant.slug, outcome)

    behind: dict[int, list[TenantRef]] = {}
    for tenant in tenants:
        have = applied.get(tenant.schema, 0)
        if have >= target:
            done(tenant, "up to date")
        else:
            behind.setdefault(target - have if have else target, []).append(tenant)
    batches: list[list[TenantRef]] = []
    for missing, group in sorted(behind.items()):
        size = 1 if missing >= target else max(1, SMALL_BATCH // missing)
        batches += [group[i:i + size] for i in range(0, len(group), size)]
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(tenant: TenantRef) -> None:
        try:
            ran = await services.migrate_tenant(tenant)
        except Exception as exc:  # reported per tenant; the others go on
            done(tenant, "failed", f"{type(exc).__name__}: {exc}")
        else:
            done(tenant, "migrated" if ran else "up to date")

    async def batch(group: list[TenantRef]) -> None:
        async with gate:
            if len(group) == 1:
                await one(group[0])
                return
            try:
                results = await services.migrate_tenants(group)
            except Exception:  # one of them is broken: find which, each in its own transaction
                for tenant in group:
                    await one(tenant)
            else:
                for tenant, ran in zip(group, results, strict=True):
                    done(tenant, "migrated" if ran else "up to date")

    await asyncio.gather(*(batch(g) for g in batches))
    return report
