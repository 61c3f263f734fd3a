"""Wire shapes of the privacy API. Times are ISO 8601 with an offset; they are stored in UTC."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from msgspec import Meta


class RequestOut(msgspec.Struct):
    id: int
    kind: str
    """export | erase"""
    contact_id: int
    status: str
    """queued | running | done | failed"""
    requested_at: dt.datetime
    due_at: dt.datetime
    """The legal deadline: 30 days after the request."""
    requested_by_id: int | None = None
    requested_by_name: str | None = None
    done_at: dt.datetime | None = None
    progress: int = 0
    expires_at: dt.datetime | None = None
    """An export's download link works until then."""
    download_url: str | None = None
    detail: dict[str, Any] = {}


class HoldIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str
    """Why the hold is set (or lifted): a court order, a dispute, an audit."""


class HoldOut(msgspec.Struct):
    held: bool
    reason: str = ""
    set_at: dt.datetime | None = None
    set_by_id: int | None = None
    set_by_name: str | None = None


KeepDays = Annotated[int, Meta(ge=1, le=36500, description="Days to keep; null keeps forever.")]


class PolicyIn(msgspec.Struct, forbid_unknown_fields=True):
    keep_days: KeepDays | None = None
    action: str = "delete"
    """delete | anonymise"""
    enabled: bool = False


class PolicyOut(msgspec.Struct):
    data_class: str
    keep_days: int | None
    action: str
    enabled: bool
    updated_at: dt.datetime | None = None
    last_run_at: dt.datetime | None = None
    last_count: int | None = None


class DryRunOut(msgspec.Struct):
    data_class: str
    keep_days: int | None
    count: int
    """Rows the policy would purge now."""


class PurgeOut(msgspec.Struct):
    data_class: str
    count: int
