"""The privacy domain's manifest: data requests (export, erasure), legal holds and retention."""

from __future__ import annotations

from app.lib.domain import Domain
from app.lib.jobs import JobSpec
from app.privacy import jobs, retention, services
from app.privacy.api import PrivacyApi, RetentionApi
from app.privacy.views import ContactPrivacyViews, DataRequestViews, RetentionViews

DOMAIN = Domain(
    name="privacy",
    routes=(PrivacyApi, RetentionApi, ContactPrivacyViews, DataRequestViews, RetentionViews),
    jobs={
        services.EXPORT_JOB: JobSpec(jobs.build_export, max_attempts=3),
        jobs.EXPIRE_JOB: JobSpec(jobs.expire_export),
        retention.RETENTION_JOB: JobSpec(jobs.nightly_retention, max_attempts=3),
    },
    merge_steps=(services.MERGE_STEP,),
    piccolo_app="app.privacy.piccolo_app",
)
