"""The reports domain's manifest: the facts' durable listener, the report routes (JSON, CSV, pages) and the CLI's
rebuild."""

from __future__ import annotations

from app.lib.domain import Domain
from app.lib.jobs import JobSpec
from app.reports import digest, events, listener, registry  # noqa: F401  (registry: the report modules register themselves)
from app.reports.api import ReportsApi
from app.reports.revenue_api import RevenueSettingsApi
from app.reports.revenue_views import RevenueSettingsViews
from app.reports.service_level_api import ServiceLevelApi
from app.reports.service_level_views import ServiceLevelViews
from app.reports.views import ReportsViews

DOMAIN = Domain(
    name="reports",
    routes=(ServiceLevelApi, ServiceLevelViews, ReportsApi, ReportsViews, RevenueSettingsApi,
            RevenueSettingsViews, digest.DigestApi, digest.DigestViews),
    jobs={digest.JOB: JobSpec(digest.send, max_attempts=8)},
    events=events,
    listeners=(listener.LISTENER,),
    piccolo_app="app.reports.piccolo_app",
)
