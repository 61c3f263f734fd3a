"""The reports domain's manifest: the facts' durable listener, the report routes (JSON, CSV, pages) and the CLI's
rebuild."""

from __future__ import annotations

from app.lib.domain import Domain
from app.reports import listener, registry  # noqa: F401  (registry: the report modules register themselves)
from app.reports.api import ReportsApi
from app.reports.revenue_api import RevenueSettingsApi
from app.reports.revenue_views import RevenueSettingsViews
from app.reports.views import ReportsViews

DOMAIN = Domain(
    name="reports",
    routes=(ReportsApi, ReportsViews, RevenueSettingsApi, RevenueSettingsViews),
    listeners=(listener.LISTENER,),
    piccolo_app="app.reports.piccolo_app",
)
