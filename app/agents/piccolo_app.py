"""Piccolo app of agents (states, state intervals, capacity; one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.agents.tables import AgentCapacity, AgentState, AgentStateInterval

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="agents",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[AgentState, AgentStateInterval, AgentCapacity],
    migration_dependencies=["app.conversations.piccolo_app", "realtime.piccolo_app"],
    commands=[],
)
