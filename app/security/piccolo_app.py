"""Piccolo app for the security console (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.security.tables import Rejection, RejectionMinute, SeenRequest

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="security",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Rejection, RejectionMinute, SeenRequest],
    migration_dependencies=[],
    commands=[],
)
