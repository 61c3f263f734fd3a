"""Piccolo app for the web chat tables (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.chat.tables import ChatMessage, ChatSession, ChatSettings

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="chat",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[ChatSettings, ChatSession, ChatMessage],
    migration_dependencies=["app.conversations.piccolo_app"],
    commands=[],
)
