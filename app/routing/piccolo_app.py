"""Piccolo app for routing (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.routing.tables import AgentSkill, QueueRouting, RoutingDecision, RoutingOffer

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="routing",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[QueueRouting, AgentSkill, RoutingDecision, RoutingOffer],
    migration_dependencies=["app.conversations.piccolo_app", "realtime.piccolo_app"],
    commands=[],
)
