"""Piccolo app for tasks (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.tasks.tables import Task

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="tasks",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Task],
    migration_dependencies=["app.conversations.piccolo_app", "app.deals.piccolo_app"],
    commands=[],
)
