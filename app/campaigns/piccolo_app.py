"""Piccolo app for campaigns (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.campaigns.tables import Campaign, CampaignRecipient, CampaignVariant

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="campaigns",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Campaign, CampaignVariant, CampaignRecipient],
    migration_dependencies=["app.contacts.piccolo_app", "app.segments.piccolo_app"],
    commands=[],
)
