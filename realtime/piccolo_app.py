"""Piccolo app for the realtime tables (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from realtime.tables import EventLog, ListenerCursor

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="realtime",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[EventLog, ListenerCursor],
    migration_dependencies=[],
    commands=[],
)
