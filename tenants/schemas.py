"""Wire shapes of the platform API."""

from __future__ import annotations

import msgspec


class SignupIn(msgspec.Struct, forbid_unknown_fields=True):
    shop_name: str
    slug: str
    email: str
    password: str
    owner_name: str = ""


class SignupOut(msgspec.Struct):
    slug: str
    api_key: str
    workspace_url: str


class HealthOut(msgspec.Struct):
    status: str
    db: str
    redis: str
