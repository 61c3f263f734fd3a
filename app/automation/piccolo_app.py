"""Piccolo app for automation (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.automation.tables import Rule, RuleVersion, Run

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="automation",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Rule, RuleVersion, Run],
    migration_dependencies=["realtime.piccolo_app", "app.accounts.piccolo_app", "app.orders.piccolo_app"],
    commands=[],
)
