"""Piccolo app for the timeline table (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.timeline.tables import Interaction

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="timeline",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Interaction],
    migration_dependencies=["app.contacts.piccolo_app"],
    commands=[],
)
