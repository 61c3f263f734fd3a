"""Secrets rotation: every encrypted column of every tenant re-encrypted under the newest key of the keyring.

Reads keep working throughout (every key of SECRET_KEYS decrypts); each tenant is one short transaction; a row is
replaced only if it still holds the token that was read (a secret saved meanwhile is newer and already under the
newest key). Re-running skips what is current, so an interrupted rotation resumes."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable

import structlog

from app.lib import crypto
from app.lib.crypto import EncryptedColumn, SecretUnreadable
from app.lib.db import TenantRef, current_uow, tenant_context

log = structlog.get_logger(__name__)

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclasses.dataclass
class TenantRotation:
    rotated: int = 0
    current: int = 0
    unreadable: list[str] = dataclasses.field(default_factory=list)
    """`table.column#id` of tokens no key of the keyring decrypts (left as they are)."""


@dataclasses.dataclass
class RotationReport:
    tenants: dict[str, TenantRotation] = dataclasses.field(default_factory=dict)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def rotated(self) -> int:
        return sum(t.rotated for t in self.tenants.values())

    @property
    def current(self) -> int:
        return sum(t.current for t in self.tenants.values())

    @property
    def unreadable(self) -> list[str]:
        return [f"{slug}: {where}" for slug, t in self.tenants.items() for where in t.unreadable]


def _quoted(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"refusing unsafe identifier {name!r}")
    return f'"{name}"'


async def rotate_tenant(tenant: TenantRef, columns: Iterable[EncryptedColumn]) -> TenantRotation:
    """Re-encrypt the tenant's secrets under the newest key, in one transaction."""
    out = TenantRotation()
    async with tenant_context(tenant) as uow:
        conn = uow.connection
        for col in columns:
            if await conn.fetchval("SELECT to_regclass($1)", col.table) is None:
                continue  # the domain's tables are not in this schema (yet): nothing stored
            table, column, key = _quoted(col.table), _quoted(col.column), _quoted(col.key)
            rows = await conn.fetch(
                f"SELECT {key} AS id, {column} AS token FROM {table} "  # noqa: S608 (identifiers checked above)
                f"WHERE {column} IS NOT NULL AND {column} <> '' ORDER BY {key}")
            for row in rows:
                token: str = row["token"]
                if crypto.is_current(token, purpose=col.purpose):
                    out.current += 1
                    continue
                try:
                    fresh = crypto.rotate(token, purpose=col.purpose)
                except SecretUnreadable:
                    out.unreadable.append(f"{col.table}.{col.column}#{row['id']}")
                    continue
                await current_uow().connection.execute(
                    f"UPDATE {table} SET {column} = $1 WHERE {key} = $2 AND {column} = $3",  # noqa: S608
                    fresh, row["id"], token)
                out.rotated += 1
    return out


async def rotate_all(tenants: Iterable[TenantRef], columns: Iterable[EncryptedColumn],
                     on_progress: Callable[[str, TenantRotation | None], None] | None = None) -> RotationReport:
    """Every tenant in turn; one that fails is reported and the others go on (re-run to resume)."""
    columns = tuple(columns)
    report = RotationReport()
    for tenant in tenants:
        try:
            done = await rotate_tenant(tenant, columns)
        except Exception as exc:  # one broken schema must not stop the rotation of the others
            log.exception("secrets_rotation_failed", tenant=tenant.slug)
            report.failed[tenant.slug] = str(exc) or type(exc).__name__
            if on_progress:
                on_progress(tenant.slug, None)
            continue
        report.tenants[tenant.slug] = done
        if on_progress:
            on_progress(tenant.slug, done)
    return report
