"""The accounts domain's manifest: users, roles, sign-in, invitations, API keys."""

from __future__ import annotations

from app.accounts import jobs, services, twofa
from app.accounts.api import AccountsApi
from app.accounts.views import AuthViews, WorkspaceViews
from app.lib.crypto import EncryptedColumn
from app.lib.domain import Domain
from app.lib.jobs import JobSpec

DOMAIN = Domain(
    name="accounts",
    routes=(AuthViews, WorkspaceViews, AccountsApi),
    jobs={"accounts.send_invitation": JobSpec(jobs.send_invitation)},
    piccolo_app="app.accounts.piccolo_app",
    secrets=(EncryptedColumn("user_totp", "secret_enc", twofa.TOTP_PURPOSE),),
    quota_usage={"users": services.quota_used},
)
