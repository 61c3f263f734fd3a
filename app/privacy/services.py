"""Data requests about one contact: export (a job builds one zip), erasure (tombstones, storage deleted,
addresses kept hashed on the suppression list), legal hold (blocks erasure). Every request is logged with who
asked, when, its due date (30 days) and its outcome.

Contract published first; the bodies follow on this branch."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal

EXPORT_JOB = "privacy.export"
ERASE_JOB = "privacy.erase"
RETENTION_JOB = "privacy.retention"
DUE_DAYS = 30


async def request_export(actor: Principal, contact_id: int) -> dict[str, Any]:
    """Log an export request and queue the job that builds the zip; returns the request row (status queued)."""
    raise NotImplementedError


async def erase(actor: Principal, contact_id: int) -> dict[str, Any]:
    """Erase a contact's personal data now (409 under legal hold); returns the request row with counts."""
    raise NotImplementedError


async def set_legal_hold(actor: Principal, contact_id: int, reason: str) -> None:
    raise NotImplementedError


async def clear_legal_hold(actor: Principal, contact_id: int, reason: str) -> None:
    raise NotImplementedError


async def get_request(request_id: int) -> dict[str, Any]:
    raise NotImplementedError


async def list_requests(limit: int = 100) -> list[dict[str, Any]]:
    raise NotImplementedError
