"""Piccolo app for the email channel tables (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.messaging.tables import EmailAccount, EmailMessage, EmailTemplate, InboundMail

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="messaging",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[EmailAccount, InboundMail, EmailMessage, EmailTemplate],
    migration_dependencies=["app.conversations.piccolo_app"],
    commands=[],
)
