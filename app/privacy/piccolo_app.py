"""Piccolo app for privacy (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.privacy.tables import LegalHold, PrivacyRequest, RetentionPolicy

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="privacy",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[PrivacyRequest, LegalHold, RetentionPolicy],
    migration_dependencies=["app.contacts.piccolo_app", "app.consent.piccolo_app"],
    commands=[],
)
