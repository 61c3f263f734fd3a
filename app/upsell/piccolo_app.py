"""Piccolo app for upsell (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.upsell.tables import UpsellEvent, UpsellPair, UpsellSettings, UpsellSuggestion

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="upsell",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[UpsellSettings, UpsellPair, UpsellSuggestion, UpsellEvent],
    migration_dependencies=["app.orders.piccolo_app"],
    commands=[],
)
