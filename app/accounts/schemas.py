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


class TwoFactorOut(msgspec.Struct):
    enabled: bool
    """Sign-in asks this user for a code after the password."""
    pending: bool
    """A set-up was started and waits for its first code (POST .../me/2fa/confirm)."""
    required: bool
    """The shop's policy requires two-factor sign-in of this user's role."""
    recovery_codes_left: int
    enabled_at: dt.datetime | None = None


class TwoFactorSetupOut(msgspec.Struct):
    secret: str
    """The base32 key to type into an authenticator app (TOTP, SHA-1, 6 digits, 30 s)."""
    otpauth_uri: str
    """The same as an otpauth:// URI (what the QR code on the profile page holds)."""


class TwoFactorCodeIn(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    """Six digits from the app, or (where said) one of the recovery codes."""


class RecoveryCodesOut(msgspec.Struct):
    recovery_codes: list[str]
    """Ten single-use codes, shown only in this answer; the earlier ones no longer work."""


class TwoFactorPolicy(msgspec.Struct, forbid_unknown_fields=True):
    policy: str
    """off | admins (admins and owners must use two-factor sign-in) | everyone."""


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
