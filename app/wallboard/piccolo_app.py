"""Piccolo app for the wallboard (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.wallboard.tables import WallboardToken

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="wallboard",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[WallboardToken],
    migration_dependencies=["app.accounts.piccolo_app"],
    commands=[],
)
