"""The tenant registry: platform-wide, in the `public` schema (the only tables that live there)."""

from __future__ import annotations

from piccolo.columns import BigInt, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Tenant(Table, schema="public", tablename="tenant"):
    """One shop. Its data lives in schema `schema_name`; `status` is `active` or `suspended`; the `quota_*` limits
    are set by the platform (`switchboard tenants quota`, app.lib.quotas), NULL: unlimited."""

    id: Serial
    slug = Varchar(length=41, unique=True, index=True)
    schema_name = Varchar(length=63, unique=True)
    name = Varchar(length=200)
    status = Varchar(length=20, default="active")
    plan = Varchar(length=40, default="trial")
    created_at = Timestamptz(default=TimestamptzNow())
    suspended_at = Timestamptz(null=True, default=None)
    quota_contacts = Integer(null=True, default=None)
    quota_users = Integer(null=True, default=None)
    quota_storage_bytes = BigInt(null=True, default=None)
    quota_messages_per_day = Integer(null=True, default=None)
