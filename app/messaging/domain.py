"""The email channel's manifest: accounts, templates, compose, inbound and outbound mail."""

from __future__ import annotations

from app.lib.domain import Domain
from app.lib.jobs import JobSpec
from app.messaging import events, jobs, live, outbound
from app.messaging.api import MessagingApi
from app.messaging.views import ConsoleEmailViews, EmailComposeViews, EmailSettingsViews, EmailTemplateViews

DOMAIN = Domain(
    name="messaging",
    routes=(MessagingApi, EmailSettingsViews, EmailComposeViews, EmailTemplateViews, ConsoleEmailViews),
    jobs={
        # SMTP down for hours loses nothing: back-off doubles to 5 minutes, so 100 attempts span about 8 hours.
        "messaging.send_email": JobSpec(jobs.send_email, max_attempts=100),
        "messaging.process_inbound": JobSpec(jobs.process_inbound, max_attempts=20),
    },
    renderers=(live.console_on_email,),
    merge_steps=(outbound.MERGE_STEP,),
    piccolo_app="app.messaging.piccolo_app",
    events=events,
)
