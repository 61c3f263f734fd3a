"""Piccolo app for business hours (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.hours.tables import AutoReplySent, Calendar, ClosedDate, Override, QueueHours, WeeklyInterval

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="hours",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Calendar, WeeklyInterval, ClosedDate, Override, QueueHours, AutoReplySent],
    migration_dependencies=["app.conversations.piccolo_app", "realtime.piccolo_app"],
    commands=[],
)
