"""Wire shapes of the contact import API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from app.lib.imports import UploadAnswer


class ImportRowError(msgspec.Struct):
    row: int
    """Row number as a spreadsheet shows it (the header is row 1)."""
    field: str
    message: str


class ImportOut(msgspec.Struct):
    id: int
    filename: str
    status: str
    """uploaded (mapping can change) | queued | running | done | failed."""
    encoding: str
    delimiter: str
    columns: list[str]
    mapping: list[str]
    """One field per column: name, company, phones, emails, tags, temperature, birth_date, address, preferences,
    custom.<key> or ignore."""
    total: int
    processed: int
    created: int
    updated: int
    """Matched an existing contact (same phone or email) and added something to it."""
    unchanged: int
    """Matched an existing contact that already had everything the row holds."""
    failed: int
    percent: int
    created_at: dt.datetime
    finished_at: dt.datetime | None
    errors: list[ImportRowError] = []
    """The first refused rows; every one of them is in errors.csv."""


class UploadOut(UploadAnswer):
    """A contacts CSV as read: columns, a sample, the mapping guess and every field a column can map to."""


class MappingIn(msgspec.Struct, forbid_unknown_fields=True):
    mapping: list[str]
    """One field key per column, in column order (see `fields` of the upload answer)."""


class PreviewRow(msgspec.Struct):
    row: int
    values: dict[str, Any]
    ok: bool
    action: str
    """create | update (a contact with the same phone or email exists) | skip (the row is refused)."""
    contact_id: int | None
    field: str | None
    message: str | None


class PreviewOut(msgspec.Struct):
    rows: list[PreviewRow]
