"""Piccolo app of the workspace (read markers and mentions; one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.workspace.tables import ConversationSeen, Mention

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="workspace",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[ConversationSeen, Mention],
    migration_dependencies=["app.conversations.piccolo_app"],
    commands=[],
)
