"""Piccolo app for consent (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.consent.tables import ConsentEntry, ConsentSalt, ConsentSettings, Suppression

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="consent",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[ConsentEntry, Suppression, ConsentSalt, ConsentSettings],
    migration_dependencies=["app.contacts.piccolo_app"],
    commands=[],
)
