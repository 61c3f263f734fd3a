"""Piccolo app for deals (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.deals.tables import Deal, DealOrder, DealStage, DealStageChange

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="deals",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[DealStage, Deal, DealOrder, DealStageChange],
    migration_dependencies=["app.orders.piccolo_app"],
    commands=[],
)
