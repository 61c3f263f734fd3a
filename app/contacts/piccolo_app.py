"""Piccolo app for the client card tables (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.contacts.tables import Contact, ContactEmail, ContactImport, ContactPhone, CustomField, Note, StoredFile

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="contacts",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Contact, ContactPhone, ContactEmail, CustomField, Note, StoredFile, ContactImport],
    migration_dependencies=["app.accounts.piccolo_app"],
    commands=[],
)
