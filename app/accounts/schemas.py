"""Wire shapes of the accounts API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec


class MeOut(msgspec.Struct):
    id: int
    email: str
    name: str
    role: str
    auth: str
    tenant: str
    language: str = "en"
    """What this request is answered in (the user's, else the workspace's, else the browser's language)."""
    timezone: str = "UTC"


class UserOut(msgspec.Struct):
    id: int
    email: str
    name: str
    role: str
    status: str
    last_login_at: dt.datetime | None
    created_at: dt.datetime


class UserPatch(msgspec.Struct, forbid_unknown_fields=True):
    role: str | None = None
    status: str | None = None


class InvitationIn(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    role: str = "operator"


class InvitationOut(msgspec.Struct):
    id: int
    email: str
    role: str
    created_at: dt.datetime
    expires_at: dt.datetime
    accepted_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None


class ApiKeyIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str


class ApiKeyOut(msgspec.Struct):
    id: int
    name: str
    prefix: str
    owner: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiKeyCreated(msgspec.Struct):
    key: ApiKeyOut
    secret: str
    """Shown once; only its hash is stored."""


class WorkspaceOut(msgspec.Struct):
    display_name: str
    timezone: str
    default_region: str
    onboarding_done: bool
    language: str = ""
    """Staff without their own language and contacts without one get this; "" leaves it to the browser."""
    currency: str = "USD"
    """ISO 4217: orders that name no currency (API, form, import) are in it."""


class WorkspacePatch(msgspec.Struct, forbid_unknown_fields=True):
    display_name: str | None = None
    timezone: str | None = None
    default_region: str | None = None
    onboarding_done: bool | None = None
    language: str | None = None
    currency: str | None = None


class AuditOut(msgspec.Struct):
    id: int
    at: dt.datetime
    actor_id: int | None
    actor: str
    action: str
    target_type: str
    target_id: str
    detail: dict[str, Any]
    ip: str


class Page(msgspec.Struct):
    items: list[Any]
    next: int | None = None


def to(struct: type[msgspec.Struct], row: dict[str, Any]) -> Any:
    fields = set(struct.__struct_fields__)
    return struct(**{k: v for k, v in row.items() if k in fields})


class QuotaOut(msgspec.Struct):
    """One quota of the plan: what is used and the limit (null: unlimited)."""

    kind: str
    """contacts | users | storage (bytes) | messages_per_day (SMS and email since midnight UTC)."""
    label: str
    used: int
    limit: int | None
    full: bool
    """True when nothing more of it can be added."""


class QuotasOut(msgspec.Struct):
    items: list[QuotaOut]
