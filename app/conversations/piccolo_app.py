"""Piccolo app for queues and conversations (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.conversations.tables import BlockedAddress, Conversation, Disposition, Queue

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="conversations",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Queue, Conversation, BlockedAddress, Disposition],
    migration_dependencies=["app.contacts.piccolo_app"],
    commands=[],
)
