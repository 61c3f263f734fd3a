"""Every background job, registered in one place (name -> function taking the decoded payload)."""

from __future__ import annotations

from app.accounts import jobs as accounts_jobs
from app.lib.jobs import JobSpec

REGISTRY: dict[str, JobSpec] = {
    "accounts.send_invitation": JobSpec(accounts_jobs.send_invitation),
}
