"""Piccolo app for the platform tables in `public`."""

import os

from piccolo.conf.apps import AppConfig

from tenants.tables import Tenant

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="platform",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Tenant],
    migration_dependencies=[],
    commands=[],
)
