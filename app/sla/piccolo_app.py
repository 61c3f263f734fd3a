"""Piccolo app for SLA policies and clocks (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.sla.tables import SlaClock, SlaConversation, SlaPolicy

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="sla",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[SlaPolicy, SlaClock, SlaConversation],
    migration_dependencies=["app.conversations.piccolo_app", "realtime.piccolo_app"],
    commands=[],
)
