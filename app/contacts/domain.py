"""The contacts domain's manifest: the client card, its files, imports, exports and merges."""

from __future__ import annotations

from app.contacts import events, files, jobs, live, merge, services
from app.contacts.api import ContactsApi
from app.contacts.files_api import ContactFilesApi
from app.contacts.files_views import ContactFileViews
from app.contacts.imports_api import ContactExportApi, ImportsApi
from app.contacts.imports_views import ImportViews
from app.contacts.merge_api import ContactMergeApi
from app.contacts.merge_views import ContactMergeViews
from app.contacts.views import ContactViews, CustomFieldViews
from app.lib.domain import Domain
from app.lib.jobs import JobSpec

DOMAIN = Domain(
    name="contacts",
    routes=(ContactsApi, ContactViews, CustomFieldViews, ContactFilesApi, ContactFileViews, ContactMergeApi,
            ContactMergeViews, ImportsApi, ImportViews, ContactExportApi),
    jobs={"contacts.run_import": JobSpec(jobs.run_import)},
    renderers=(live.contact_card,),
    merge_steps=merge.STEPS,
    piccolo_app="app.contacts.piccolo_app",
    events=events,
    quota_usage={"contacts": services.quota_used, "storage": files.quota_used},
)
