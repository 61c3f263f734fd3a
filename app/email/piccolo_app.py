"""Piccolo app for the email channel tables (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.email.tables import EmailAccount, EmailMessage, EmailTemplate, InboundMail

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    # The package was app.messaging; every tenant's `migration` table records this app under that name.
    app_name="messaging",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[EmailAccount, InboundMail, EmailMessage, EmailTemplate],
    migration_dependencies=["app.conversations.piccolo_app"],
    commands=[],
)
