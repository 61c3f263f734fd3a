"""The email channel's manifest (package app.email; its Piccolo app and job names keep the old name "messaging", which
applied migrations and queued job rows store): accounts, templates, compose, inbound and outbound mail."""

from __future__ import annotations

from app.email import config, jobs, live, outbound
from app.email.api import MessagingApi
from app.email.views import ConsoleEmailViews, EmailComposeViews, EmailSettingsViews, EmailTemplateViews
from app.lib.crypto import EncryptedColumn
from app.lib.domain import Domain
from app.lib.jobs import JobSpec

DOMAIN = Domain(
    name="email",
    routes=(MessagingApi, EmailSettingsViews, EmailComposeViews, EmailTemplateViews, ConsoleEmailViews),
    jobs={
        # SMTP down for hours loses nothing: back-off doubles to 5 minutes, so 100 attempts span about 8 hours.
        "messaging.send_email": JobSpec(jobs.send_email, max_attempts=100),
        "messaging.process_inbound": JobSpec(jobs.process_inbound, max_attempts=20),
    },
    renderers=(live.console_on_email, live.mine_on_email),
    merge_steps=(outbound.MERGE_STEP,),
    piccolo_app="app.email.piccolo_app",
    secrets=(EncryptedColumn("email_account", "smtp_password_enc", config.PASSWORD_PURPOSE),),
    quota_usage={"messages_per_day": outbound.sent_today},
)
