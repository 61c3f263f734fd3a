"""Tenant registry rules: slugs, signup (provisioning in one transaction), lookup, suspension."""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from app.accounts import services as accounts
from app.lib.clock import now
from app.lib.db import SLUG_RE, TenantRef, forget_tenant, platform_context, quote_schema, repinned, schema_transaction
from app.lib.errors import Conflict, Invalid, NotFound
from app.lib.identities import normalize_email
from app.lib.security import check_password_policy, hash_password
from tenants import migrations
from tenants.tables import Tenant

RESERVED_SLUGS = frozenset({
    "admin", "api", "app", "assets", "auth", "billing", "console", "dashboard", "default", "demo_admin", "docs",
    "health", "help", "information_schema", "login", "logout", "mail", "platform", "postgres", "public", "root",
    "schema", "signup", "static", "status", "support", "switchboard", "system", "template", "test_admin", "www",
    "sb_baseline_ref_a", "sb_baseline_ref_b",  # tenants.baseline builds its reference schemas under these
})


def validate_slug(slug: str) -> str:
    if not isinstance(slug, str) or not slug:
        raise Invalid("Choose a workspace address (slug).", field="slug")
    if len(slug) > 41:
        raise Invalid("The slug must be at most 41 characters.", field="slug")
    if not SLUG_RE.match(slug):
        raise Invalid(
            "The slug must be 3 to 41 characters: lowercase letters a-z, digits and underscores, starting with a "
            "letter.",
            field="slug",
        )
    if slug.startswith("pg_") or slug in RESERVED_SLUGS:
        raise Invalid("The slug %(slug)s is reserved; choose another.", field="slug", slug=repr(slug))
    return slug


def schema_for(slug: str) -> str:
    return f"t_{validate_slug(slug)}"


def _ref(row: dict) -> TenantRef:
    return TenantRef(id=row["id"], slug=row["slug"], schema=row["schema_name"], name=row["name"])


async def get(slug: str) -> TenantRef:
    row = await Tenant.select(Tenant.id, Tenant.slug, Tenant.schema_name, Tenant.name).where(
        Tenant.slug == slug).first()
    if row is None:
        raise NotFound("No tenant %(slug)s.", slug=repr(slug))
    return _ref(row)


async def list_all() -> list[dict]:
    return await Tenant.select().order_by(Tenant.id)


async def set_status(slug: str, status: str) -> None:
    """Suspend or reactivate a shop; a suspended shop answers 404 everywhere, like an unknown one."""
    if status not in {"active", "suspended"}:
        raise Invalid("status must be active or suspended", field="status")
    suspended_at = now() if status == "suspended" else None
    updated = await Tenant.update({Tenant.status: status, Tenant.suspended_at: suspended_at}).where(
        Tenant.slug == slug).returning(Tenant.id)
    if not updated:
        raise NotFound("No tenant %(slug)s.", slug=repr(slug))
    forget_tenant(slug)


QUOTA_COLUMNS = {"contacts": Tenant.quota_contacts, "users": Tenant.quota_users,
                 "storage": Tenant.quota_storage_bytes, "messages_per_day": Tenant.quota_messages_per_day}
UNSET = object()
"""A quota left as it is (None sets it unlimited)."""


async def set_quotas(slug: str, **limits: Any) -> dict[str, Any]:
    """Set some of a shop's quotas (contacts, users, storage in bytes, messages_per_day); None: unlimited, UNSET:
    unchanged. Returns the shop's row with every quota."""
    changes: dict[Any, Any] = {}
    for kind, value in limits.items():
        if kind not in QUOTA_COLUMNS:
            raise Invalid("Unknown quota %(kind)s.", field=kind, kind=repr(kind))
        if value is UNSET:
            continue
        if value is not None and (not isinstance(value, int) or value < 0 or value > 2**62):
            raise Invalid("A quota is a whole number, 0 or more (or unset: unlimited).", field=kind)
        if value is not None and kind != "storage" and value > 2**31 - 1:
            raise Invalid("A quota is a whole number, 0 or more (or unset: unlimited).", field=kind)
        changes[QUOTA_COLUMNS[kind]] = value
    if changes:
        updated = await Tenant.update(changes).where(Tenant.slug == slug).returning(Tenant.id)
    else:
        updated = await Tenant.select(Tenant.id).where(Tenant.slug == slug)
    if not updated:
        raise NotFound("No tenant %(slug)s.", slug=repr(slug))
    row = await Tenant.select(Tenant.slug, Tenant.name, Tenant.plan, *QUOTA_COLUMNS.values()).where(
        Tenant.slug == slug).first()
    assert row is not None
    return row


class SignupResult:
    def __init__(self, tenant: TenantRef, user_id: int, api_key: str, seconds: float) -> None:
        self.tenant = tenant
        self.user_id = user_id
        self.api_key = api_key
        self.seconds = seconds


async def signup(shop_name: str, slug: str, email: str, password: str, owner_name: str = "") -> SignupResult:
    """Create a shop: registry row, schema, tables, owner and API key in ONE transaction (all or nothing)."""
    started = time.perf_counter()
    shop_name = (shop_name or "").strip()
    if not shop_name:
        raise Invalid("Enter your shop's name.", field="shop_name")
    if len(shop_name) > 200:
        raise Invalid("The shop name must be at most 200 characters.", field="shop_name")
    slug = validate_slug(slug)
    email = normalize_email(email)
    check_password_policy(password, email=email)
    if await Tenant.exists().where(Tenant.slug == slug):
        raise Conflict("The workspace address %(slug)s is already taken; choose another.", field="slug",
                       slug=repr(slug))
    password_hash = await hash_password(password)
    schema = schema_for(slug)
    try:
        async with platform_context() as uow:
            row = await Tenant.insert(Tenant(slug=slug, schema_name=schema, name=shop_name)).returning(Tenant.id)
            tenant = TenantRef(id=row[0]["id"], slug=slug, schema=schema, name=shop_name)
            await uow.connection.execute(f"CREATE SCHEMA {quote_schema(schema)}")
            await uow.connection.execute(f"SET LOCAL search_path TO {quote_schema(schema)}")
            # Same connection and transaction, now pinned to the new schema.
            uow.schema, uow.tenant = schema, tenant
            await migrations.migrate_current_schema(migrations.tenant_apps())
            owner_id, api_key = await accounts.seed_workspace(
                tenant, shop_name=shop_name, email=email, name=owner_name or email.split("@")[0],
                password_hash=password_hash,
            )
    except asyncpg.UniqueViolationError:
        raise Conflict("The workspace address %(slug)s is already taken; choose another.", field="slug",
                       slug=repr(slug)) from None
    except asyncpg.DuplicateSchemaError:
        raise Conflict("The workspace address %(slug)s is not available; choose another.", field="slug",
                       slug=repr(slug)) from None
    return SignupResult(tenant, owner_id, api_key, time.perf_counter() - started)


async def migrate_tenant(tenant: TenantRef, *, use_baseline: bool = True) -> list[str]:
    async with schema_transaction(tenant.schema, tenant):
        return await migrations.migrate_current_schema(migrations.tenant_apps(), use_baseline=use_baseline)


async def migrate_tenants(tenants: list[TenantRef]) -> list[list[str]]:
    """Bring several schemas to head in ONE transaction (cheap when each has little to do): all or none commit.
    Returns the migration ids applied, per tenant in order."""
    first, done = tenants[0], []
    async with schema_transaction(first.schema, first) as uow:
        for tenant in tenants:
            async with repinned(uow, tenant.schema, tenant):
                done.append(await migrations.migrate_current_schema(migrations.tenant_apps()))
    return done


async def pending_for(tenant: TenantRef) -> list[tuple[str, str]]:
    async with schema_transaction(tenant.schema, tenant):
        return await migrations.pending(migrations.tenant_apps())


async def migrate_platform() -> list[str]:
    """Bring `public` to head (the registry). Safe to run concurrently: an advisory lock serialises runners."""
    async with platform_context() as uow:
        await uow.connection.execute("SELECT pg_advisory_xact_lock(727274)")
        return await migrations.migrate_current_schema(migrations.PLATFORM_APPS)
