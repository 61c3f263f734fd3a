"""Piccolo app for segments (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.segments.tables import Segment, SegmentMember, TemperatureRules

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="segments",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Segment, SegmentMember, TemperatureRules],
    migration_dependencies=["app.contacts.piccolo_app", "app.orders.piccolo_app", "app.consent.piccolo_app"],
    commands=[],
)
