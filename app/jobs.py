"""Every background job (name -> function taking the decoded payload), collected from the domains' manifests."""

from __future__ import annotations

from app import domains
from app.lib.jobs import JobSpec

REGISTRY: dict[str, JobSpec] = domains.jobs()
