"""Piccolo app for the accounts tables (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.accounts.tables import ApiKey, Invitation, LoginChallenge, RecoveryCode, Session, User, UserTotp, Workspace
from app.audit.tables import AuditEntry

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="accounts",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[User, Session, ApiKey, Invitation, Workspace, UserTotp, RecoveryCode, LoginChallenge, AuditEntry],
    migration_dependencies=[],
    commands=[],
)
